"""The login page shows only this service's own messages, never text carried by a link."""

from __future__ import annotations

from httpx import AsyncClient


async def test_login_page_shows_only_its_own_messages(client: AsyncClient) -> None:
    phishing = "Your account is locked. Call +1 555 0100 and give your password."
    page = await client.get("/login", params={"error": phishing})
    assert page.status_code == 200
    assert "locked" not in page.text
    assert 'role="alert"' not in page.text
    expired = await client.get("/login", params={"error": "expired"})
    assert "Your session has expired" in expired.text
