"""Before a request body is read: the API knows who is calling (bearer tokens only, never the
session cookie), refuses bodies of another media type, and reads a dispatch's metadata fields
only while they stay small and textual."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from httpx import AsyncClient, Response
from sqlmodel import func, select

from mailbox.api.bodies import FORM_FIELD_LIMIT
from mailbox.models import Delivery, WebhookSubscription
from mailbox.services import Services
from tests.factories import PASSWORD, make_world, post_dispatch, token_for, web_login

DISPATCHES = "/api/v1/dispatches"
BOUNDARY = "gate-boundary"
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
CHUNK = 64 * 1024


class StreamedField:
    """A multipart body with one huge text field, produced chunk by chunk as the server asks
    for it; ``sent`` counts the bytes the server consumed."""

    def __init__(self, name: str, size: int) -> None:
        self.name, self.size, self.sent = name, size, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{self.name}"\r\n\r\n'
        for chunk in (head.encode(), *([b"a" * CHUNK] * (self.size // CHUNK))):
            self.sent += len(chunk)
            yield chunk
        tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        self.sent += len(tail)
        yield tail


def assert_problem(response: Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    return body


async def _deliveries(services: Services) -> int:
    async with services.db.session() as session:
        return (await session.exec(select(func.count()).select_from(Delivery))).one()


async def test_anonymous_dispatch_is_refused_before_its_body_is_read(
    client: AsyncClient, services: Services
) -> None:
    body = StreamedField("title", 20 * 1024 * 1024)

    response = await client.post(DISPATCHES, headers=MULTIPART, content=body)

    assert_problem(response, 401)
    assert body.sent == 0


async def test_dispatch_by_a_non_dispatcher_is_refused_before_its_body_is_read(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    body = StreamedField("title", 20 * 1024 * 1024)
    headers = {**await token_for(client, world.applicant), **MULTIPART}

    response = await client.post(DISPATCHES, headers=headers, content=body)

    assert "dispatchers" in assert_problem(response, 403)["detail"]
    assert body.sent == 0


async def test_an_oversized_metadata_field_is_refused_as_it_arrives(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    dispatcher = await token_for(client, world.dispatcher)
    streamed = StreamedField("title", 20 * 1024 * 1024)

    huge = await client.post(DISPATCHES, headers={**dispatcher, **MULTIPART}, content=streamed)
    large = await post_dispatch(client, dispatcher, world.account.id, title="x" * 10_240)

    assert [e["field"] for e in assert_problem(huge, 413)["errors"]] == ["title"]
    assert streamed.sent < FORM_FIELD_LIMIT + 2 * CHUNK
    assert [e["field"] for e in assert_problem(large, 413)["errors"]] == ["title"]
    assert await _deliveries(services) == 0


async def test_a_text_field_that_is_not_utf8_is_a_problem_not_an_error(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    not_text = {"file": (None, b"\x89"), "title": (None, "t")}

    anonymous = await client.post(DISPATCHES, files=not_text)
    dispatcher = await client.post(
        DISPATCHES, headers=await token_for(client, world.dispatcher), files=not_text
    )

    assert_problem(anonymous, 401)
    assert [e["field"] for e in assert_problem(dispatcher, 400)["errors"]] == ["file"]
    assert await _deliveries(services) == 0


async def test_the_session_cookie_does_not_authenticate_the_api(
    client: AsyncClient, services: Services
) -> None:
    """A page another site serves can make the browser post with its cookie and a text/plain
    body, never with an Authorization header: the API answers it as anonymous."""
    world = await make_world(services)
    login = await web_login(client, world.applicant.email, PASSWORD)
    assert login.status_code == 303
    account = f"/api/v1/accounts/{world.account.id}"
    forged = {"Origin": "https://attacker.example", "Content-Type": "text/plain"}

    answers = [
        await client.post(
            "/api/v1/webhooks",
            headers=forged,
            content=json.dumps({"account_id": world.account.id, "url": "https://attacker.example"}),
        ),
        await client.patch(
            f"{account}/notification-settings", headers=forged, content='{"language": "de"}'
        ),
        await client.delete(f"{account}/consent", headers={"Origin": "https://attacker.example"}),
        await client.get("/api/v1/inbox"),
    ]

    for answer in answers:
        assert_problem(answer, 401)
    owner = await token_for(client, world.applicant)
    settings = (await client.get(f"{account}/notification-settings", headers=owner)).json()
    assert settings["language"] == "en"
    assert settings["edelivery_status"] == "active"
    async with services.db.session() as session:
        hooks = await session.exec(select(func.count()).select_from(WebhookSubscription))
        assert hooks.one() == 0


async def test_a_json_route_refuses_a_body_of_another_media_type(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    body = json.dumps({"account_id": world.account.id, "url": "https://example.com/hook"})

    as_text = await client.post(
        "/api/v1/webhooks", headers={**owner, "Content-Type": "text/plain"}, content=body
    )
    as_form = await client.patch(
        f"/api/v1/accounts/{world.account.id}/notification-settings",
        headers=owner,
        data={"language": "de"},
    )

    assert "application/json" in assert_problem(as_text, 415)["detail"]
    assert_problem(as_form, 415)


async def test_the_delivery_page_downloads_with_the_session_and_the_api_does_not(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    created = await post_dispatch(
        client, await token_for(client, world.dispatcher), world.account.id
    )
    delivery_id = created.json()["id"]

    anonymous = await client.get(f"/deliveries/{delivery_id}/document")
    await web_login(client, world.applicant.email, PASSWORD)
    page = await client.get(f"/deliveries/{delivery_id}")
    api_with_cookie = await client.get(f"/api/v1/deliveries/{delivery_id}/document")
    document = await client.get(f"/deliveries/{delivery_id}/document")
    proof = await client.get(f"/deliveries/{delivery_id}/proof")

    assert anonymous.status_code == 302
    assert anonymous.headers["location"] == "/login"
    assert f'href="/deliveries/{delivery_id}/document"' in page.text
    assert_problem(api_with_cookie, 401)
    assert document.status_code == 200, document.text
    assert document.content.startswith(b"%PDF-")
    assert document.headers["x-evidence-type"] == "ContentHandover"
    assert proof.status_code == 200, proof.text
    assert proof.headers["content-type"] == "application/zip"
