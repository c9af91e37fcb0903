"""What every answer tells the browser: security headers (no sniffing, no referrer, no framing,
a content security policy on pages, HSTS over https, no caching of personal pages)."""

from __future__ import annotations

import httpx
from httpx import AsyncClient

from mailbox.api.app import create_app
from mailbox.services import Services
from tests.factories import PASSWORD, make_world, token_for, web_login

EVERY_ANSWER = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


async def test_personal_page_carries_security_headers_and_is_not_cached(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    login = await web_login(client, world.applicant.email, PASSWORD)
    assert login.status_code == 303, login.text
    for path in ("/inbox", f"/accounts/{world.account.id}/settings"):
        page = await client.get(path)
        assert page.status_code == 200, page.text
        for name, value in EVERY_ANSWER.items():
            assert page.headers[name] == value
        policy = page.headers["content-security-policy"]
        assert "default-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";", 1)[0]
        assert page.headers["cache-control"] == "no-store"
        assert "<script" not in page.text  # the policy allows no inline script
        assert "strict-transport-security" not in page.headers  # published over http


async def test_api_answer_carries_security_headers(client: AsyncClient, services: Services) -> None:
    world = await make_world(services)
    answer = await client.get("/api/v1/inbox", headers=await token_for(client, world.applicant))
    assert answer.status_code == 200, answer.text
    for name, value in EVERY_ANSWER.items():
        assert answer.headers[name] == value
    refused = await client.get("/api/v1/inbox")
    assert refused.status_code == 401
    assert refused.headers["x-content-type-options"] == "nosniff"


async def test_service_published_over_https_asks_for_https_only(services: Services) -> None:
    settings = services.settings.model_copy(update={"public_base_url": "https://mailbox.example"})
    app = create_app(settings, services=services)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="https://mailbox.example") as http:
        page = await http.get("/login")
    assert page.status_code == 200
    assert page.headers["strict-transport-security"].startswith("max-age=")
