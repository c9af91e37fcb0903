"""Log-in and log-out CSRF: another site can neither log a browser in (to an account of its
choosing) nor out. The log-in form carries a token bound to a cookie of the log-in page, and a
post to /login or /logout from a foreign Origin is refused with 403."""

from __future__ import annotations

import re

import httpx
from httpx import AsyncClient

from mailbox.api.security import SESSION_COOKIE
from mailbox.services import Services
from tests.factories import PASSWORD, make_world, web_login

EVIL = "https://attacker.example"


def _token(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def test_login_without_form_token_refused(client: AsyncClient, services: Services) -> None:
    world = await make_world(services)
    await client.get("/login")  # the browser has the log-in cookie, the post lacks the token
    posted = await client.post(
        "/login", data={"email": world.applicant.email, "password": PASSWORD}
    )
    assert posted.status_code == 403
    assert "did not come from this site" in posted.text
    assert SESSION_COOKIE not in posted.cookies
    # The answer is a fresh form that works.
    assert (await web_login(client, world.applicant.email)).status_code == 303


async def test_login_form_token_of_another_browser_refused(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    attacker_page = await client.get("/login")
    stolen = _token(attacker_page)
    client.cookies.clear()  # the victim's browser: a log-in cookie of its own
    await client.get("/login")
    posted = await client.post(
        "/login",
        data={"email": world.applicant.email, "password": PASSWORD, "csrf_token": stolen},
    )
    assert posted.status_code == 403
    assert SESSION_COOKIE not in posted.cookies


async def test_login_foreign_origin_refused(client: AsyncClient, services: Services) -> None:
    world = await make_world(services)
    page = await client.get("/login")
    form = {"email": world.applicant.email, "password": PASSWORD, "csrf_token": _token(page)}
    for headers in (
        {"Origin": EVIL},
        {"Origin": "http://mailbox.test.attacker.example"},
        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain
    ):
        posted = await client.post("/login", data=form, headers=headers)
        assert posted.status_code == 403, headers
        assert SESSION_COOKIE not in posted.cookies
    # Our own page posts with our Origin, or "null" (its referrer policy) and same-origin.
    for headers in (
        {"Origin": "http://mailbox.test"},
        {"Origin": "null", "Sec-Fetch-Site": "same-origin"},
    ):
        ours = await client.post("/login", data=form, headers=headers)
        assert ours.status_code == 303, headers


async def test_logout_foreign_origin_refused(client: AsyncClient, services: Services) -> None:
    world = await make_world(services)
    await web_login(client, world.applicant.email)
    inbox = await client.get("/inbox")
    posted = await client.post(
        "/logout", data={"csrf_token": _token(inbox)}, headers={"Origin": EVIL}
    )
    assert posted.status_code == 403
    assert (await client.get("/inbox")).status_code == 200  # still logged in
    without_token = await client.post("/logout", data={})
    assert without_token.status_code == 403
    assert (await client.get("/inbox")).status_code == 200
