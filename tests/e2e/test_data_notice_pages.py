"""A national-phase notice in Debian's chromium against the real service on a demo install: the
dispatcher sends it as JSON through the office's form and its page names the JSON notice; the
applicant's delivery page shows no field of it until "Open the notice", which records the
pickup and shows the notice as a table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.browser import log_in

pytestmark = pytest.mark.browser

NOTICE = {
    "notice": "national-phase-entry/1",
    "international_application_number": "PCT/EP2026/054321",
    "designated_office": "JP",
    "national_application_number": "2026-777001",
    "entry_date": "2026-11-20",
    "status": "entered",
    "applicant_reference": "BROWSER-1",
}


def test_a_notice_sent_through_the_form_opens_as_a_table_for_the_applicant(
    page: Any, tmp_path: Path
) -> None:
    log_in(page, "dispatcher")
    page.get_by_role("link", name="Dispatch a document").click()
    page.fill("#recipient_query", "demo applicant")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    page.fill("#kind_code", "national-phase-entry")
    page.fill("#dossier_number", "PCT/EP2026/054321")
    page.fill("#title", "National-phase entry notice from the browser")
    notice = tmp_path / "notice.json"
    notice.write_text(json.dumps(NOTICE, indent=2))
    page.set_input_files("#file", str(notice))
    page.get_by_role("button", name="Dispatch").click()
    page.wait_for_load_state()

    assert "/office/dispatches/dlv_" in page.url
    delivery_id = page.url.rsplit("/", 1)[-1].split("?")[0]
    assert page.locator("#document-words").inner_text() == "JSON notice"
    assert len(page.locator("#document-sha256").inner_text()) == 64

    page.context.clear_cookies()
    log_in(page, "applicant")
    page.goto(f"/deliveries/{delivery_id}")
    assert "2026-777001" not in page.content()
    assert page.locator("#picked-up").inner_text() == "not yet"
    page.get_by_role("link", name="Open the notice").click()
    page.wait_for_load_state()

    rows = dict(
        zip(
            page.locator("#notice-fields tbody th").all_inner_texts(),
            page.locator("#notice-fields tbody td").all_inner_texts(),
            strict=True,
        )
    )
    assert rows == {
        "International application number": "PCT/EP2026/054321",
        "Designated office": "JP",
        "National application number": "2026-777001",
        "Entry date": "2026-11-20",
        "Status": "entered",
        "Applicant reference": "BROWSER-1",
    }
    assert "ContentHandover" in page.locator("#recorded").inner_text()
    page.get_by_role("link", name="← The delivery").click()
    page.wait_for_load_state()
    assert page.locator("#picked-up").inner_text() != "not yet"
