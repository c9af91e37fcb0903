"""An office's policy for PDFs with active content, set from the command line: by code or id,
printed as JSON; a wrong value or an unknown office is one line on stderr and exit 2, and
changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.service_process import clean_env

ROOT = Path(__file__).resolve().parents[2]


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailbox", *args],
        cwd=ROOT,
        env=clean_env(data_dir=str(data_dir)),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database with office EP (created with the default policy)."""
    directory = tmp_path_factory.mktemp("office-policy")
    assert _cli(directory, "db", "upgrade").returncode == 0
    created = _cli(directory, "--json", "office", "create", "--code", "EP", "--name", "EPO")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["active_content"] == "reject"
    return directory


def test_office_policy_allows_active_content_by_code_and_back_by_id(data_dir: Path) -> None:
    allowed = _cli(data_dir, "--json", "office", "policy", "EP", "--active-content", "allow")
    assert allowed.returncode == 0, allowed.stderr
    office = json.loads(allowed.stdout)
    assert (office["code"], office["active_content"]) == ("EP", "allow")

    rejected = _cli(data_dir, "office", "policy", office["id"], "--active-content", "reject")
    assert rejected.returncode == 0, rejected.stderr
    assert rejected.stdout.strip() == "Office EP: active content reject"


def test_office_policy_with_unknown_office_or_value_exits_2(data_dir: Path) -> None:
    unknown = _cli(data_dir, "office", "policy", "XX", "--active-content", "allow")
    wrong = _cli(data_dir, "office", "policy", "EP", "--active-content", "sometimes")

    assert (unknown.returncode, unknown.stderr.strip()) == (2, "Error: No office XX")
    assert wrong.returncode == 2
    assert "'sometimes' is not one of 'reject', 'allow'" in wrong.stderr
    assert "Traceback" not in unknown.stderr + wrong.stderr
