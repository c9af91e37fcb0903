"""A paper delivery in Debian's chromium: the office marks a kind paper-only from the command
line, dispatches a document of that kind, and the applicant sees it on paper, with its status
and reason, and no download button that could only fail."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx
import pytest

from mailbox.deliveries.paper_rule import PaperReason
from mailbox.operations.demo import DEMO_TOTP_SECRETS, DEMO_USERS, demo_pdf
from tests.factories import totp_code
from tests.fixtures.browser import DemoService, log_in
from tests.fixtures.service_process import ROOT, clean_env

pytestmark = pytest.mark.browser

KIND = "PAPER1"
TITLE = "Decision to refuse (served on paper)"


def _token(http: httpx.Client, role: str) -> dict[str, str]:
    email, password = DEMO_USERS[role]
    form = {"grant_type": "password", "username": email, "password": password}
    if role in DEMO_TOTP_SECRETS:
        form["totp"] = totp_code(f"api|{email}", DEMO_TOTP_SECRETS[role])
    response = http.post("/api/v1/auth/token", data=form)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="module")
def paper_delivery(demo_service: DemoService) -> dict[str, Any]:
    """A document of a kind the demo office serves on paper only, dispatched to the applicant."""
    marked = subprocess.run(
        [sys.executable, "-m", "mailbox", "office", "paper-only", "DEMO", "--kind", KIND],
        cwd=ROOT,
        env=clean_env(data_dir=str(demo_service.data_dir)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert marked.returncode == 0, marked.stderr
    with httpx.Client(base_url=demo_service.base_url, timeout=30) as http:
        applicant = _token(http, "applicant")
        [account] = http.get("/api/v1/accounts", headers=applicant).json()["items"]
        dispatched = http.post(
            "/api/v1/dispatches",
            headers=_token(http, "dispatcher"),
            files={"file": ("refusal.pdf", demo_pdf(TITLE), "application/pdf")},
            data={
                "recipient_account_id": account["id"],
                "kind_code": KIND,
                "dossier_number": "EP24000001.1",
                "title": TITLE,
            },
        )
    assert dispatched.status_code == 201, dispatched.text
    body = dispatched.json()
    assert body["paper_reason_code"] == PaperReason.PAPER_ONLY_KIND
    return body


def test_applicant_sees_the_paper_status_and_reason_and_no_download(
    page: Any, paper_delivery: dict[str, Any]
) -> None:
    log_in(page, "applicant")

    row = page.locator("#on-paper tbody tr", has_text=TITLE)
    assert paper_delivery["paper_reason"] in row.inner_text()
    row.get_by_role("link", name=TITLE).click()
    page.wait_for_load_state()

    assert page.locator("#paper-status").inner_text() == (
        "On paper: the letter is being prepared for posting."
    )
    assert page.locator("#paper-reason").inner_text() == paper_delivery["paper_reason"]
    assert page.get_by_role("link", name="Download sealed PDF").count() == 0
    assert page.locator("#download").count() == 0
    events = page.locator("#timeline tbody td:nth-child(3)").all_inner_texts()
    assert any(
        "Handed to the paper process" in e and paper_delivery["paper_reason"] in e for e in events
    )
