"""Webhook subscriptions: owners (accounts) and dispatchers (offices) subscribe HTTPS URLs, the
secret is shown once, deleting deactivates, and each subscription's attempts are listed newest
first, page by page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from httpx import AsyncClient, Response

from mailbox import clock
from mailbox.errors import InvalidRequest
from mailbox.models import OutboxMessage, Role, WebhookAttempt, WebhookSubscription
from mailbox.notifications.webhooks import EVENT_TYPES, check_url
from mailbox.services import Services
from tests.factories import add_member, make_world, token_for
from tests.fixtures.db import both_backends

HOOKS = "/api/v1/webhooks"
URL = "https://patents.example.com/hooks/mailbox"


def assert_problem(response: Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


async def test_owner_subscribes_and_the_secret_is_shown_once(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    created = await client.post(
        HOOKS, headers=owner, json={"account_id": world.account.id, "url": URL}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["events"] == []  # all of them
    assert body["active"] is True
    assert len(body["secret"]) >= 43  # 32 random bytes, URL-safe base64
    assert created.headers["location"] == f"{HOOKS}/{body['id']}"
    assert created.headers["cache-control"] == "no-store"

    listed = (await client.get(HOOKS, headers=owner)).json()
    assert [s["id"] for s in listed["items"]] == [body["id"]]
    assert "secret" not in listed["items"][0]
    one = (await client.get(f"{HOOKS}/{body['id']}", headers=owner)).json()
    assert "secret" not in one
    assert one["url"] == URL
    async with services.db.session() as session:
        stored = await session.get(WebhookSubscription, body["id"])
    assert stored is not None and stored.secret == body["secret"]


@pytest.mark.parametrize(
    "url",
    ["http://example.com/hook", "http://127.0.0.1:9000/hook", "ftp://example.com/", "not a url"],
)
async def test_url_that_is_not_https_is_refused(
    client: AsyncClient, services: Services, url: str
) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    response = await client.post(
        HOOKS, headers=owner, json={"account_id": world.account.id, "url": url}
    )
    problem = assert_problem(response, 422)
    assert [e["field"] for e in problem["errors"]] == ["url"]


@pytest.mark.parametrize(
    ("url", "test_mode", "accepted"),
    [
        ("https://hooks.example.com/x?y=1", False, True),
        ("http://127.0.0.1:8081/hook", True, True),
        ("http://localhost/hook", True, True),
        ("http://127.0.0.1:8081/hook", False, False),
        ("http://example.com/hook", True, False),
        ("https://user:pass@hooks.example.com/", False, False),
        ("https://hooks.example.com/#part", False, False),
        ("https://hooks.example.com:port/", False, False),
        ("https:///no-host", False, False),
    ],
)
def test_webhook_url_rules(url: str, test_mode: bool, accepted: bool) -> None:
    """``test_mode``: the test/demo settings that allow http:// and private targets."""
    rules = {"allow_http_loopback": test_mode, "allow_private": test_mode}
    if accepted:
        assert check_url(url, **rules) == url
    else:
        with pytest.raises(InvalidRequest) as raised:
            check_url(url, **rules)
        assert raised.value.errors[0].field == "url"


async def test_events_must_be_known_event_types(client: AsyncClient, services: Services) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    refused = await client.post(
        HOOKS,
        headers=owner,
        json={
            "account_id": world.account.id,
            "url": "http://example.com/",
            "events": ["delivery.available", "delivery.exploded"],
        },
    )
    problem = assert_problem(refused, 422)
    assert {e["field"] for e in problem["errors"]} == {"url", "events"}
    events_error = next(e for e in problem["errors"] if e["field"] == "events")
    assert "delivery.exploded" in events_error["message"]

    chosen = ["delivery.picked_up", "delivery.available", "delivery.picked_up"]
    created = await client.post(
        HOOKS, headers=owner, json={"account_id": world.account.id, "url": URL, "events": chosen}
    )
    assert created.json()["events"] == ["delivery.available", "delivery.picked_up"]
    assert set(created.json()["events"]) <= set(EVENT_TYPES)


async def test_office_subscription_needs_a_dispatcher_of_that_office(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    other = await make_world(services)
    body = {"office_id": world.office.id, "url": URL}
    auditor = await client.post(HOOKS, headers=await token_for(client, world.auditor), json=body)
    assert "dispatcher" in assert_problem(auditor, 403)["detail"]
    assert_problem(
        await client.post(HOOKS, headers=await token_for(client, other.dispatcher), json=body),
        404,
    )
    dispatcher = await token_for(client, world.dispatcher)
    created = await client.post(HOOKS, headers=dispatcher, json=body)
    assert created.status_code == 201, created.text
    assert created.json()["office_id"] == world.office.id
    listed = (await client.get(HOOKS, headers=dispatcher)).json()
    assert [s["id"] for s in listed["items"]] == [created.json()["id"]]


async def test_account_subscription_needs_an_owner(client: AsyncClient, services: Services) -> None:
    world = await make_world(services)
    body = {"account_id": world.account.id, "url": URL}
    viewer = await token_for(client, await add_member(services, world.account, Role.VIEWER))
    assert_problem(await client.post(HOOKS, headers=viewer, json=body), 403)
    stranger = await token_for(client, world.stranger)
    assert_problem(await client.post(HOOKS, headers=stranger, json=body), 404)


async def test_subscription_names_exactly_one_account_or_office(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    both = {"account_id": world.account.id, "office_id": world.office.id, "url": URL}
    assert_problem(await client.post(HOOKS, headers=owner, json=both), 422)
    assert_problem(await client.post(HOOKS, headers=owner, json={"url": URL}), 422)


async def test_delete_deactivates_and_keeps_the_subscription_readable(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    created = (
        await client.post(HOOKS, headers=owner, json={"account_id": world.account.id, "url": URL})
    ).json()
    one = f"{HOOKS}/{created['id']}"
    assert (await client.delete(one, headers=owner)).status_code == 204
    assert (await client.get(HOOKS, headers=owner)).json()["items"] == []
    assert (await client.get(one, headers=owner)).json()["active"] is False
    assert (await client.get(f"{one}/attempts", headers=owner)).status_code == 200
    assert_problem(await client.delete(one, headers=owner), 404)
    assert_problem(await client.post(f"{one}/rotate-secret", headers=owner), 404)


async def test_rotating_gives_a_new_secret_shown_once(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    created = (
        await client.post(HOOKS, headers=owner, json={"account_id": world.account.id, "url": URL})
    ).json()
    rotated = await client.post(f"{HOOKS}/{created['id']}/rotate-secret", headers=owner)
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    assert rotated.json()["secret"] != created["secret"]
    async with services.db.session() as session:
        stored = await session.get(WebhookSubscription, created["id"])
    assert stored is not None and stored.secret == rotated.json()["secret"]
    stranger = await token_for(client, world.stranger)
    assert_problem(
        await client.post(f"{HOOKS}/{created['id']}/rotate-secret", headers=stranger), 404
    )


@both_backends
async def test_attempts_are_listed_newest_first_page_by_page(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    created = (
        await client.post(HOOKS, headers=owner, json={"account_id": world.account.id, "url": URL})
    ).json()
    start = clock.now()
    async with services.db.write() as session:
        message = OutboxMessage(kind="webhook.event", account_id=world.account.id)
        session.add(message)
        await session.flush()
        attempts = [
            WebhookAttempt(
                subscription_id=created["id"],
                outbox_id=message.id,
                event_type="delivery.available",
                attempted_at=start + timedelta(minutes=n),
                ok=n == 4,
                status_code=200 if n == 4 else 503,
                detail="ok" if n == 4 else "service unavailable",
            )
            for n in range(5)
        ]
        session.add_all(attempts)
    newest_first = [a.id for a in reversed(attempts)]

    seen, cursor = [], None
    path = f"{HOOKS}/{created['id']}/attempts"
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(path, headers=owner, params=params)).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [a["id"] for a in seen] == newest_first
    assert (seen[0]["ok"], seen[0]["status_code"]) == (True, 200)
    assert seen[0]["attempted_at"].endswith("Z")
    assert seen[0]["outbox_id"] == message.id

    stranger = await token_for(client, world.stranger)
    assert_problem(await client.get(path, headers=stranger), 404)
    assert (await client.get(HOOKS, headers=stranger)).json()["items"] == []
    bad_cursor = await client.get(path, headers=owner, params={"cursor": "garbage!"})
    assert [e["field"] for e in assert_problem(bad_cursor, 422)["errors"]] == ["cursor"]
