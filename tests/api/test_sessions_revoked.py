"""Log-out and password change end sessions for real: a copied session cookie stops working
once its session logged out, and a password change ends every earlier web session and bearer
token of the user; the change needs the current password and a new one that meets the rule."""

from __future__ import annotations

import re

import httpx
from httpx import AsyncClient

from mailbox.api.app import create_app
from mailbox.api.security import SESSION_COOKIE
from mailbox.services import Services
from tests.api.test_machine_clients import _assertion, _client_token, _registered_client
from tests.factories import PASSWORD, make_world, token_for, web_login

NEW_PASSWORD = "seven quiet harbour lanterns"
CHANGE = "/api/v1/account/password"


def _browser(services: Services) -> AsyncClient:
    """Another browser (its own cookies) on the same app."""
    transport = httpx.ASGITransport(app=create_app(services=services), client=("192.0.2.9", 1))
    return AsyncClient(transport=transport, base_url="http://mailbox.test")


def _form_token(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def _inbox_status(services: Services, session_token: str) -> int:
    async with _browser(services) as thief:
        thief.cookies.set(SESSION_COOKIE, session_token)
        return (await thief.get("/inbox")).status_code


async def test_logout_revokes_the_session_a_stolen_cookie_holds(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    assert (await web_login(client, world.applicant.email)).status_code == 303
    stolen = client.cookies[SESSION_COOKIE]
    assert await _inbox_status(services, stolen) == 200

    inbox = await client.get("/inbox")
    logout = await client.post("/logout", data={"csrf_token": _form_token(inbox)})
    assert logout.status_code == 303 and logout.headers["location"] == "/login"

    assert await _inbox_status(services, stolen) in (302, 303)  # to the log-in page
    # Other sessions and the API tokens of the user go on.
    api = await token_for(client, world.applicant)
    assert (await client.get("/api/v1/inbox", headers=api)).status_code == 200


async def test_password_change_revokes_every_session_and_token(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    email = world.applicant.email
    api = await token_for(client, world.applicant)
    assert (await web_login(client, email)).status_code == 303
    web_session = client.cookies[SESSION_COOKIE]

    changed = await client.post(
        CHANGE, headers=api, json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["cache-control"] == "no-store"
    fresh = {"Authorization": f"Bearer {changed.json()['access_token']}"}

    old = await client.get("/api/v1/inbox", headers=api)
    assert old.status_code == 401
    assert "password was changed" in old.json()["detail"]
    assert await _inbox_status(services, web_session) in (302, 303)
    assert (await client.get("/api/v1/inbox", headers=fresh)).status_code == 200
    token = "/api/v1/auth/token"
    login = {"grant_type": "password", "username": email}
    assert (await client.post(token, data={**login, "password": PASSWORD})).status_code == 400
    assert (await client.post(token, data={**login, "password": NEW_PASSWORD})).status_code == 200


async def test_password_change_with_wrong_current_password_refused(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    api = await token_for(client, world.applicant)
    refused = await client.post(
        CHANGE, headers=api, json={"current_password": "guess-guess", "new_password": NEW_PASSWORD}
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in refused.json()["errors"]] == ["current_password"]
    # Nothing changed: the token still works, the old password still logs in.
    assert (await client.get("/api/v1/inbox", headers=api)).status_code == 200
    await token_for(client, world.applicant)


async def test_password_change_to_a_weak_password_refused(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    api = await token_for(client, world.applicant)
    for new, reason in (
        ("password123", "most common passwords"),
        (f"{world.applicant.email}!", "email address"),
        ("short", "at least 10 characters"),
        (PASSWORD, "differ from the current"),
    ):
        refused = await client.post(
            CHANGE, headers=api, json={"current_password": PASSWORD, "new_password": new}
        )
        assert refused.status_code == 422, new
        [error] = refused.json()["errors"]
        assert error["field"] == "new_password" and reason in error["message"]
    assert (await client.get("/api/v1/inbox", headers=api)).status_code == 200


async def test_password_change_needs_a_token(client: AsyncClient) -> None:
    refused = await client.post(
        CHANGE, json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert refused.status_code == 401


async def test_password_change_page_keeps_this_browser_and_ends_the_others(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    assert (await web_login(client, world.applicant.email)).status_code == 303
    before = client.cookies[SESSION_COOKIE]
    page = await client.get("/settings/password")
    assert page.status_code == 200

    wrong = await client.post(
        "/settings/password",
        data={
            "current_password": "not mine at all",
            "new_password": NEW_PASSWORD,
            "csrf_token": _form_token(page),
        },
    )
    assert wrong.status_code == 422
    assert "is not your current password" in wrong.text

    done = await client.post(
        "/settings/password",
        data={
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "csrf_token": _form_token(page),
        },
    )
    assert done.status_code == 303, done.text
    notice = await client.get(done.headers["location"])
    assert notice.status_code == 200 and "Password changed" in notice.text
    assert await _inbox_status(services, before) in (302, 303)


async def test_password_change_page_without_form_token_refused(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    await web_login(client, world.applicant.email)
    forged = await client.post(
        "/settings/password",
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert forged.status_code == 403
    await token_for(client, world.applicant)  # the password did not change


async def test_password_change_by_a_machine_client_forbidden(
    client: AsyncClient, services: Services
) -> None:
    key, client_id = await _registered_client(services)
    issued = await _client_token(client, _assertion(key, client_id))
    machine = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    refused = await client.post(
        CHANGE, headers=machine, json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert refused.status_code == 403
    assert "Machine clients have no password" in refused.json()["detail"]
