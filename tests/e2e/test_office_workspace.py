"""The office workspace in Debian's chromium against the real service on a demo install: the
dispatcher lands on it, filters the list, opens a timeline, sends a document through the form
(once refused, with the problem beside the field, once served); the auditor reads the same
list with evidence and proof but no link to the document.

The tests share one service (one demo install) per module; the one that dispatches uses a
dossier of its own, so the others' filters never see its document.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailbox.operations.demo import DEMO_DOCUMENTS, demo_pdf
from tests.fixtures.browser import log_in

pytestmark = pytest.mark.browser

TITLES = {title: dossier for _, dossier, title in DEMO_DOCUMENTS}  # title -> dossier number
ISR_TITLE = next(title for kind, _, title in DEMO_DOCUMENTS if kind == "ISR")


def listed_titles(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("#dispatches tbody td:nth-child(5)").all_inner_texts()]


def timeline_events(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("#timeline tbody td:nth-child(3)").all_inner_texts()]


def filter_by(page: Any, **fields: str) -> None:
    for name, value in fields.items():
        if page.locator(f"select#{name}").count():
            page.select_option(f"#{name}", value)
        else:
            page.fill(f"#{name}", value)
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()


def test_dispatcher_lands_on_the_workspace_and_filters_the_list(page: Any) -> None:
    log_in(page, "dispatcher")

    assert page.url.endswith("/office/dispatches")
    assert page.get_by_role("heading", name="Office workspace").is_visible()
    assert set(TITLES) <= set(listed_titles(page))

    filter_by(page, dossier_number=TITLES[ISR_TITLE])
    assert listed_titles(page) == [ISR_TITLE]
    assert page.input_value("#dossier_number") == TITLES[ISR_TITLE]

    filter_by(page, dossier_number="", status="paper_queued")
    assert page.get_by_text("No dispatches.").is_visible()

    filter_by(page, status="", dispatched_from="2026-02-30")
    assert "a date written YYYY-MM-DD" in page.locator("#dispatched_from-error").inner_text()
    assert page.input_value("#dispatched_from") == "2026-02-30"

    page.get_by_role("link", name="Clear the filters").click()
    assert set(TITLES) <= set(listed_titles(page))


def test_dispatcher_opens_a_dispatch_and_reads_its_timeline(page: Any) -> None:
    log_in(page, "dispatcher")
    page.get_by_role("link", name=ISR_TITLE).click()
    page.wait_for_load_state()

    assert "/office/dispatches/dlv_" in page.url
    assert timeline_events(page)[:2] == ["SubmissionAcceptance", "ContentConsignment"]
    assert "unless it is opened before" in page.locator("#deadline").inner_text()
    assert page.locator("#paper").inner_text().startswith("No: served electronically.")
    assert page.locator("#download").count() == 0
    with page.expect_download() as evidence:
        page.get_by_role("link", name="Evidence records (JSON)").click()
    assert b"SubmissionAcceptance" in Path(evidence.value.path()).read_bytes()


def test_dispatch_form_shows_a_refusal_beside_the_field_then_serves_the_document(
    page: Any, tmp_path: Path
) -> None:
    log_in(page, "dispatcher")
    page.get_by_role("link", name="Dispatch a document").click()
    page.fill("#recipient_query", "demo applicant")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    recipient = page.get_by_role("radio", name="Demo Applicant Ltd")
    assert recipient.is_checked()  # the only match
    page.fill("#kind_code", "R71")
    page.fill("#dossier_number", "EP26000001.1")
    page.fill("#title", "Communication from the workspace")

    # Sent without a file: the problem beside the file field, the rest kept.
    page.get_by_role("button", name="Dispatch").click()
    page.wait_for_load_state()
    assert "a file is required (a PDF, or a JSON or XML document)" in page.locator("#file-error").inner_text()
    assert page.input_value("#title") == "Communication from the workspace"
    assert page.input_value("#dossier_number") == "EP26000001.1"
    assert page.get_by_role("radio", name="Demo Applicant Ltd").is_checked()

    pdf = tmp_path / "communication.pdf"
    pdf.write_bytes(demo_pdf("Communication from the workspace"))
    page.set_input_files("#file", str(pdf))
    page.get_by_role("button", name="Dispatch").click()
    page.wait_for_load_state()

    assert "/office/dispatches/dlv_" in page.url
    assert "Dispatched." in page.locator("#notice").inner_text()
    assert page.locator("#status").inner_text() == "available"
    assert timeline_events(page)[:2] == ["SubmissionAcceptance", "ContentConsignment"]
    page.get_by_role("link", name="← Dispatches").click()
    filter_by(page, dossier_number="EP26000001.1")
    assert listed_titles(page) == ["Communication from the workspace"]


def test_auditor_reads_the_list_with_evidence_and_proof_but_no_content_link(page: Any) -> None:
    log_in(page, "auditor")

    assert page.url.endswith("/office/dispatches")
    assert set(TITLES) <= set(listed_titles(page))
    assert page.get_by_role("link", name="Dispatch a document").count() == 0
    page.get_by_role("link", name=ISR_TITLE).click()
    page.wait_for_load_state()

    assert timeline_events(page)[:2] == ["SubmissionAcceptance", "ContentConsignment"]
    assert page.locator("#no-content").is_visible()
    assert page.locator("#download").count() == 0
    assert page.locator("a[href$='/document']").count() == 0
    assert page.get_by_role("link", name="Evidence records (JSON)").is_visible()
    with page.expect_download() as proof:
        page.get_by_role("link", name="Proof of delivery (ZIP)").click()
    assert Path(proof.value.path()).read_bytes().startswith(b"PK")
