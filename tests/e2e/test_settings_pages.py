"""The notification settings pages in Debian's chromium against the real service on a demo
install: the demo applicant (owner of the demo account) reads the electronic delivery status,
adds and removes an address, sees a bad one refused beside the field, switches to a daily
digest with their own reminder days, withdraws and gives consent; an auditor, who holds no
grant on the account, gets a not-found page.

The tests share one service per module; the ``demo_account`` fixture puts the demo account
back into its demo settings (through the API) before each test, so none depends on another.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mailbox.operations.demo import DEMO_USERS
from tests.fixtures.browser import DemoService, log_in

pytestmark = pytest.mark.browser

APPLICANT_EMAIL = DEMO_USERS["applicant"][0]


@pytest.fixture
def demo_account(demo_service: DemoService) -> Iterator[str]:
    """The demo account's id, reset to the demo's settings: consent given, only the applicant's
    verified address, alerts immediately, in English."""
    email, password = DEMO_USERS["applicant"]
    with httpx.Client(base_url=demo_service.base_url, timeout=10) as api:
        token = api.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": email, "password": password},
        )
        assert token.status_code == 200, token.text
        api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        (account,) = api.get("/api/v1/accounts").json()["items"]
        base = f"/api/v1/accounts/{account['id']}"
        assert api.post(f"{base}/consent").status_code == 200
        for address in api.get(f"{base}/notification-settings").json()["addresses"]:
            if address["email"] != email:
                removed = api.delete(f"{base}/notification-addresses/{address['id']}")
                assert removed.status_code == 204, removed.text
        reset = api.patch(
            f"{base}/notification-settings", json={"mode": "immediate", "language": "en"}
        )
        assert reset.status_code == 200, reset.text
        assert reset.json()["edelivery_status"] == "active"
    yield account["id"]


def open_settings(page: Any, account_id: str) -> None:
    """Log in as the applicant and follow the header's link to the account's settings."""
    log_in(page, "applicant")
    page.get_by_role("link", name="Notification settings").click()
    page.wait_for_url(f"**/accounts/{account_id}/settings")


def address_state(page: Any, email: str) -> str:
    return page.locator(f'#address-list tr[data-email="{email}"] td.state').inner_text()


def status_text(page: Any) -> str:
    return page.locator("#edelivery-status").inner_text().strip()


def test_settings_show_active_delivery_and_the_verified_address(
    page: Any, demo_account: str
) -> None:
    open_settings(page, demo_account)

    assert page.get_by_role("heading", name="Notification settings").is_visible()
    assert status_text(page).startswith("Active.")
    assert address_state(page, APPLICANT_EMAIL).startswith("verified")
    assert page.get_by_role("button", name="Withdraw consent").is_visible()
    assert page.get_by_role("button", name="Give consent").count() == 0


def test_added_address_is_pending_until_verified_and_can_be_removed(
    page: Any, demo_account: str
) -> None:
    open_settings(page, demo_account)

    page.fill("#email", "patents@demo.test")
    page.get_by_role("button", name="Add address").click()
    page.wait_for_url("**/settings?done=address-added")

    assert "verification link" in page.get_by_role("status").inner_text()
    assert address_state(page, "patents@demo.test").startswith("pending")
    assert address_state(page, APPLICANT_EMAIL).startswith("verified")
    assert status_text(page).startswith("Active.")

    page.get_by_role("button", name="Remove patents@demo.test").click()
    page.wait_for_url("**/settings?done=address-removed")
    assert page.locator('#address-list tr[data-email="patents@demo.test"]').count() == 0


def test_bad_email_is_refused_with_the_error_beside_the_field(page: Any, demo_account: str) -> None:
    open_settings(page, demo_account)

    page.fill("#email", "not-an-email")
    page.get_by_role("button", name="Add address").click()
    page.wait_for_load_state()

    beside = page.locator("#email ~ #email-error")
    assert beside.inner_text() == "not an email address"
    assert beside.is_visible()
    assert page.input_value("#email") == "not-an-email"
    assert page.locator('#address-list tr[data-email="not-an-email"]').count() == 0


def test_digest_and_reminder_days_are_saved_and_shown_after_reload(
    page: Any, demo_account: str
) -> None:
    open_settings(page, demo_account)

    page.get_by_label("Daily digest").check()
    page.fill("#reminder-days", "2, 5")
    page.get_by_role("button", name="Save alert settings").click()
    page.wait_for_url("**/settings?done=saved")

    page.reload()
    assert page.get_by_label("Daily digest").is_checked()
    assert not page.get_by_label("Immediately").is_checked()
    assert page.input_value("#reminder-days") == "2, 5"


def test_withdrawing_consent_sends_documents_to_paper_until_given_again(
    page: Any, demo_account: str
) -> None:
    open_settings(page, demo_account)
    assert "served on paper" in page.locator("#paper-sentence").inner_text()

    page.get_by_role("button", name="Withdraw consent").click()
    page.wait_for_url("**/settings?done=consent-withdrawn")
    assert status_text(page).startswith("Inactive.")
    assert "Documents are served on paper by post" in status_text(page)

    page.get_by_role("button", name="Give consent").click()
    page.wait_for_url("**/settings?done=consent-given")
    assert status_text(page).startswith("Active.")


def test_auditor_gets_a_not_found_page_for_the_account_settings(
    page: Any, demo_account: str
) -> None:
    log_in(page, "auditor")
    assert page.get_by_role("link", name="Notification settings").count() == 0

    response = page.goto(f"/accounts/{demo_account}/settings")

    assert response is not None and response.status == 404
    assert page.get_by_role("alert").inner_text() == f"No account {demo_account}"
    assert page.locator("#edelivery-status").count() == 0
