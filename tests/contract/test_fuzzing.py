"""The API keeps its OpenAPI contract under fuzzing: schemathesis (4.x) generates requests for
every operation from the document the service serves, as an applicant, a dispatcher and
anonymously, against the real service (``python -m mailbox serve`` on a demo install), and
checks every answer: no 5xx, every status, content type, header and body as documented,
schema-valid requests accepted and schema-violating ones refused, authentication enforced
where declared and not where not. By default a bounded run (a few examples per operation, a
fixed seed); ``MAILBOX_FUZZ_EXAMPLES=200`` makes it the longer run of SECURITY.md (that many
examples per operation, every phase including stateful sequences, a random seed). The
exceptions the document cannot state are in ``schemathesis.toml`` beside this file, each
with its reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mailbox.operations.demo import DEMO_USERS
from tests.fixtures.browser import DemoService
from tests.fixtures.service_process import ROOT, second_factor

CONFIG = Path(__file__).with_name("schemathesis.toml")
CALLERS = ("anonymous", "applicant", "dispatcher")
LONGER = os.environ.get("MAILBOX_FUZZ_EXAMPLES")
# Bounded: every operation through each phase but the stateful one, in well under a minute.
RUN = (
    ["--max-examples", LONGER]
    if LONGER
    else ["--max-examples", "2", "--phases", "examples,coverage,fuzzing", "--seed", "1"]
)


def schemathesis_run(
    base_url: str, token: str | None, *options: str
) -> subprocess.CompletedProcess:
    """``schemathesis run`` with every check on the service's OpenAPI document."""
    auth = ["--header", f"Authorization: Bearer {token}"] if token else []
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())",
            "--config-file",
            str(CONFIG),
            "run",
            f"{base_url}/schema/openapi.json",
            "--checks",
            "all",
            "--workers",
            "1",
            "--generation-database",
            "none",
            "--no-color",
            *auth,
            *options,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=None if LONGER else 300,
    )


@pytest.fixture(scope="module")
def tokens(demo_service: DemoService) -> dict[str, str | None]:
    """Access tokens of the demo's people, all taken before any fuzzing (which tries enough
    wrong passwords from this address to be locked out of logging in for a while)."""
    found: dict[str, str | None] = {"anonymous": None}
    for role in ("applicant", "dispatcher"):
        email, password = DEMO_USERS[role]
        answer = httpx.post(
            f"{demo_service.base_url}/api/v1/auth/token",
            data={"grant_type": "password", "username": email, "password": password}
            | second_factor(role),
        )
        assert answer.status_code == 200, answer.text
        found[role] = answer.json()["access_token"]
    return found


@pytest.mark.slow
@pytest.mark.parametrize("caller", CALLERS)
def test_fuzzing_finds_no_fault_and_no_answer_outside_the_contract(
    demo_service: DemoService, tokens: dict[str, str | None], caller: str
) -> None:
    run = schemathesis_run(demo_service.base_url, tokens[caller], *RUN)
    summary = run.stdout[-6000:]
    print(f"schemathesis as {caller}:", *summary.splitlines()[-6:], sep="\n")
    assert run.returncode == 0, f"schemathesis as {caller}:\n{summary}\n{run.stderr[-2000:]}"
    assert " passed" in summary and "failures" not in summary, summary
