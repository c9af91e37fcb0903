"""Two-step log-in in Debian's chromium against the real service on a demo install: an
applicant sets it up from the settings pages (QR code, first code, recovery codes), then logs
in with a code, with "remember this device", with a recovery code, and turns it off; a demo
dispatcher cannot reach anything before the code of their authenticator.

The tests share one service per module; the applicant's set-up is undone at the end of its
test, so the other tests see the demo as it was made.
"""

from __future__ import annotations

from typing import Any

import pytest

from mailbox.operations.demo import DEMO_TOTP_SECRETS, DEMO_USERS
from tests.factories import totp_code
from tests.fixtures.browser import DemoService, answer_code, log_in

pytestmark = pytest.mark.browser


def submit_log_in_form(page: Any, role: str) -> None:
    email, password = DEMO_USERS[role]
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def log_out(page: Any) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")


def test_applicant_sets_up_two_step_log_in_and_logs_in_with_code_device_and_recovery_code(
    page: Any, browser: Any, demo_service: DemoService
) -> None:
    who = f"{demo_service.base_url}|applicant-e2e"
    log_in(page, "applicant")
    page.get_by_role("link", name="Two-step log-in").click()
    page.get_by_role("button", name="Set up two-step log-in").click()

    # The QR code is an image from our own route that the browser could draw.
    assert page.locator("#qr").evaluate("img => img.complete && img.naturalWidth") > 0
    secret = page.locator("#secret").inner_text().strip()
    assert page.locator("#otpauth-uri").inner_text().startswith("otpauth://totp/")
    page.fill("#code", totp_code(who, secret))
    page.get_by_role("button", name="Confirm").click()
    codes = [text.strip() for text in page.locator("#recovery-codes li").all_inner_texts()]
    assert len(codes) == 10
    page.get_by_role("link", name="I have kept them: continue").click()
    assert "10 of 10 recovery codes left" in page.locator("#status").inner_text()

    # Log in again: the code is asked after the password; this device is remembered.
    log_out(page)
    submit_log_in_form(page, "applicant")
    assert page.url.endswith("/login/second-factor")
    page.goto("/inbox")
    assert page.url.endswith("/login")  # nothing before the code
    page.goto("/login/second-factor")
    answer_code(page, who, secret, remember=True)
    assert page.url.endswith("/inbox")

    log_out(page)
    submit_log_in_form(page, "applicant")
    assert page.url.endswith("/inbox")  # the remembered device skips the code

    # Another browser has no remembered device: a recovery code logs in, once.
    other = browser.new_context(base_url=demo_service.base_url)
    try:
        elsewhere = other.new_page()
        submit_log_in_form(elsewhere, "applicant")
        elsewhere.fill("#code", codes[0])
        elsewhere.get_by_role("button", name="Verify").click()
        elsewhere.wait_for_url("**/inbox")
        elsewhere.goto("/settings/two-factor")
        assert "9 of 10 recovery codes left" in elsewhere.locator("#status").inner_text()
    finally:
        other.close()

    # Turned off with the password: the next log-in needs the password only.
    page.goto("/settings/two-factor")
    page.fill("#off-password", DEMO_USERS["applicant"][1])
    page.get_by_role("button", name="Turn two-step log-in off").click()
    assert "Two-step log-in is off" in page.locator("#notice").inner_text()
    log_out(page)
    submit_log_in_form(page, "applicant")
    assert page.url.endswith("/inbox")


def test_dispatcher_gets_in_only_with_the_code_of_the_demo_secret(
    page: Any, demo_service: DemoService
) -> None:
    submit_log_in_form(page, "dispatcher")
    assert page.url.endswith("/login/second-factor")
    page.fill("#code", "000000")
    page.get_by_role("button", name="Verify").click()
    assert "Wrong or already used code" in page.locator("#code-error").inner_text()

    answer_code(
        page,
        f"{demo_service.base_url}/login/second-factor|{DEMO_USERS['dispatcher'][0]}",
        DEMO_TOTP_SECRETS["dispatcher"],
    )
    assert page.url.endswith("/office/dispatches")  # office staff land on their workspace
    assert "Demo dispatcher" in page.locator("header").inner_text()
