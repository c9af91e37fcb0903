"""The office-to-office demo in Debian's chromium against the real service: the searching
authority's clerk finds the search copy the receiving office routed through the International
Bureau; the Bureau's dispatcher sees the transmission with both hops (its receipt acknowledged,
forwarded) and its coverage report of the national-phase notices it expected."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from mailbox.operations.demo_offices import SEARCH_COPY
from tests.fixtures.browser import log_in

pytestmark = pytest.mark.browser


def test_the_routed_search_copy_reaches_the_searching_authority(page: Any) -> None:
    log_in(page, "searching")
    page.goto("/inbox")
    assert SEARCH_COPY in page.content()
    assert "International Bureau" in page.content()


def test_the_hub_sees_every_hop_and_who_is_behind(page: Any) -> None:
    log_in(page, "hub")
    page.goto("/office/transmissions")
    row = page.locator("#transmissions tbody tr").filter(has_text=SEARCH_COPY)
    assert "RODE → IB → ISAEP" in row.inner_text()
    row.get_by_role("link", name=SEARCH_COPY).click()
    page.wait_for_load_state()
    assert page.locator("#route").inner_text() == "RODE → IB → ISAEP"
    hops = page.locator("#hops > li")
    assert hops.count() == 2
    first = hops.nth(0).inner_text()
    assert "RODE → IB" in first and "forwarded" in first
    assert "Receipt acknowledged by the hub" in first
    assert "IB → ISAEP" in hops.nth(1).inner_text()

    today = date.today()
    period = f"from={today - timedelta(days=40)}&to={today + timedelta(days=40)}"
    page.goto(f"/office/coverage?{period}")
    cells = page.locator("#sender-DEMO td").all_inner_texts()
    # Sending office, expected, on time, late, missing, pending.
    assert cells == ["DEMO", "8", "4", "2", "1", "1"]
    assert page.locator("#sender-RODE td").all_inner_texts() == ["RODE", "1", "1", "0", "0", "0"]
