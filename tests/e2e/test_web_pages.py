"""The pages in Debian's chromium against the real service on a demo install: log in, the inbox
and its filters, one delivery with its timeline, the download that records the legal pickup,
logging out, and what an auditor may see.

The tests share one service (one demo install) per module, so none relies on another having
run: each one that picks a document up picks its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from mailbox.operations.demo import DEMO_DOCUMENTS, DEMO_USERS
from tests.fixtures.browser import DemoService, log_in

pytestmark = pytest.mark.browser

TITLES = {title: dossier for _, dossier, title in DEMO_DOCUMENTS}  # title -> dossier number
R71_TITLE, _, ISR_TITLE = TITLES


def inbox_rows(page: Any) -> list[dict[str, Any]]:
    """The inbox table as title, dossier, status text and whether the row is shown in bold."""
    rows = []
    for row in page.locator("table tbody tr").all():
        cells = row.locator("td")
        weight = cells.first.evaluate("cell => getComputedStyle(cell).fontWeight")
        rows.append(
            {
                "title": cells.nth(4).inner_text().strip(),
                "dossier": cells.nth(3).inner_text().strip(),
                "status": cells.nth(5).inner_text().strip(),
                "bold": int(weight) >= 600,
            }
        )
    return rows


def timeline_events(page: Any) -> list[str]:
    return [
        text.strip()
        for text in page.locator("#timeline tbody td:nth-child(3) code").all_inner_texts()
    ]


def pick_up_in_browser(page: Any, title: str) -> bytes:
    """Open ``title`` from the inbox and download its sealed PDF; return the file's bytes."""
    page.goto("/inbox")
    page.get_by_role("link", name=title).click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download sealed PDF").click()
    return Path(download_info.value.path()).read_bytes()


def test_log_in_shows_the_demo_documents_with_unread_ones_in_bold(page: Any) -> None:
    log_in(page, "applicant")

    assert page.url.endswith("/inbox")
    rows = inbox_rows(page)
    assert sorted(row["title"] for row in rows) == sorted(TITLES)
    for row in rows:
        assert row["dossier"] == TITLES[row["title"]]
        assert row["bold"] == (row["status"] == "available"), row
    assert any(row["bold"] for row in rows)


def test_download_records_the_pickup_on_the_delivery_page(page: Any) -> None:
    log_in(page, "applicant")
    page.get_by_role("link", name=R71_TITLE).click()

    assert page.locator("#status").inner_text() == "available"
    assert timeline_events(page)[:2] == ["SubmissionAcceptance", "ContentConsignment"]
    assert "unless it is opened before" in page.locator("#deadline").inner_text()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download sealed PDF").click()
    download = download_info.value
    assert Path(download.path()).read_bytes().startswith(b"%PDF-")
    assert download.suggested_filename == "R71.pdf"

    page.reload()
    assert page.locator("#status").inner_text() == "picked up"
    assert "ContentHandover" in timeline_events(page)
    assert page.locator("#picked-up").inner_text().endswith("Z")
    assert page.locator("#deadline").inner_text().endswith("(UTC), when it was opened.")


def test_wrong_password_shows_the_error_and_keeps_the_email(page: Any) -> None:
    log_in(page, "applicant", password="not-the-password")

    assert page.url.endswith("/login")
    assert page.get_by_role("alert").inner_text() == "Wrong email or password"
    assert page.input_value("#email") == DEMO_USERS["applicant"][0]


def test_dossier_filter_lists_only_that_dossiers_documents(page: Any) -> None:
    log_in(page, "applicant")
    for dossier in sorted(set(TITLES.values())):
        page.fill("#dossier", dossier)
        page.get_by_role("button", name="Filter").click()
        page.wait_for_load_state()

        listed = {row["title"] for row in inbox_rows(page)}
        assert listed == {title for title, d in TITLES.items() if d == dossier}
        assert page.input_value("#dossier") == dossier

    page.fill("#dossier", "EP00000000.0")
    page.get_by_role("button", name="Filter").click()
    assert page.get_by_text("No documents.").is_visible()


def test_unread_filter_hides_documents_picked_up(page: Any) -> None:
    log_in(page, "applicant")
    assert pick_up_in_browser(page, ISR_TITLE).startswith(b"%PDF")
    page.goto("/inbox")
    bold_titles = {row["title"] for row in inbox_rows(page) if row["bold"]}

    page.get_by_label("Unread only").check()
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()

    assert "unread=true" in page.url
    unread = inbox_rows(page)
    assert {row["title"] for row in unread} == bold_titles
    assert ISR_TITLE not in bold_titles
    assert all(row["status"] == "available" for row in unread)
    assert page.get_by_label("Unread only").is_checked()


def test_log_out_returns_to_the_login_page_and_closes_the_inbox(page: Any) -> None:
    log_in(page, "applicant")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")

    page.goto("/inbox")
    assert page.url.endswith("/login")
    assert page.get_by_role("heading", name="Log in").is_visible()


def test_auditor_sees_the_timeline_but_no_download_button(
    page: Any, demo_service: DemoService
) -> None:
    delivery_id = _delivery_id_of(demo_service, R71_TITLE)
    log_in(page, "auditor")
    page.fill("#delivery-id", delivery_id)
    page.get_by_role("button", name="Open").click()
    page.wait_for_url(f"**/deliveries/{delivery_id}")

    assert page.get_by_role("heading", name=R71_TITLE).is_visible()
    assert timeline_events(page)[:2] == ["SubmissionAcceptance", "ContentConsignment"]
    assert page.get_by_role("link", name="Download sealed PDF").count() == 0
    assert page.locator("#download").count() == 0


def _delivery_id_of(service: DemoService, title: str) -> str:
    """The id of the demo delivery titled ``title``, read through the API as the applicant."""
    email, password = DEMO_USERS["applicant"]
    with httpx.Client(base_url=service.base_url, timeout=10) as api:
        token = api.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": email, "password": password},
        )
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        items = api.get("/api/v1/inbox", headers=headers).json()["items"]
    return next(item["id"] for item in items if item["document"]["title"] == title)
