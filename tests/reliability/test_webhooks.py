"""Webhooks: subscribers receive signed delivery events; an endpoint in trouble is retried, one
that is gone is given up; every attempt is kept."""

from __future__ import annotations

import json
from datetime import timedelta

from httpx import AsyncClient
from sqlmodel import col, select

from mailbox import clock
from mailbox.models import OutboxMessage, WebhookAttempt, WebhookSubscription
from mailbox.services import Services
from notifier import verify_signature
from tests.factories import World, deliver, make_world, token_for
from tests.fixtures.smtp import WebhookReceiver
from tests.reliability.test_alerts import drain, outbox

SECRET = "whsec-test-0123456789"


async def subscribe(
    services: Services, world: World, url: str, *, office: bool = False, events: list[str] = ()
) -> WebhookSubscription:
    async with services.db.write() as session:
        subscription = WebhookSubscription(
            account_id=None if office else world.account.id,
            office_id=world.office.id if office else None,
            url=url,
            secret=SECRET,
            events=list(events),
        )
        session.add(subscription)
    return subscription


async def attempts(services: Services) -> list[WebhookAttempt]:
    async with services.db.session() as session:
        rows = await session.exec(select(WebhookAttempt).order_by(col(WebhookAttempt.attempted_at)))
        return list(rows.all())


async def test_subscriber_receives_signed_available_and_picked_up_events(
    services: Services, client: AsyncClient, webhook_receiver: WebhookReceiver
) -> None:
    world = await make_world(services)
    await subscribe(services, world, webhook_receiver.url)
    delivery = await deliver(services, world)
    await drain(services)
    headers = await token_for(client, world.applicant)
    response = await client.get(f"/api/v1/deliveries/{delivery.id}/document", headers=headers)
    assert response.status_code == 200

    await drain(services)

    received = webhook_receiver.requests
    assert [r.headers["mailbox-event-type"] for r in received] == [
        "delivery.available",
        "delivery.picked_up",
    ]
    for request in received:
        assert verify_signature(
            SECRET,
            request.headers["mailbox-signature"],
            request.body,
            now=int(clock.now().timestamp()),
        )
        assert not verify_signature(
            "another secret",
            request.headers["mailbox-signature"],
            request.body,
            now=int(clock.now().timestamp()),
        )
    available, picked_up = (json.loads(r.body) for r in received)
    assert available["type"] == "delivery.available" and available["status"] == "available"
    assert available["delivery_id"] == delivery.id
    assert available["account_id"] == world.account.id
    assert available["office_id"] == world.office.id
    assert available["available_at"].endswith("Z")
    assert available["id"] == received[0].headers["mailbox-event-id"]
    assert picked_up["status"] == "picked_up" and picked_up["picked_up_at"].endswith("Z")
    assert [a.ok for a in await attempts(services)] == [True, True]


async def test_office_subscription_hears_only_the_events_it_asked_for(
    services: Services, webhook_receiver: WebhookReceiver
) -> None:
    world = await make_world(services)
    await subscribe(
        services, world, webhook_receiver.url, office=True, events=["delivery.picked_up"]
    )
    await deliver(services, world)

    await drain(services)

    assert webhook_receiver.requests == []
    assert await outbox(services, "webhook.delivery") == []


async def test_failing_endpoint_is_retried_until_it_answers(
    services: Services, webhook_receiver: WebhookReceiver
) -> None:
    world = await make_world(services)
    await subscribe(services, world, webhook_receiver.url)
    webhook_receiver.respond_with(500)
    await deliver(services, world)

    await drain(services)
    [message] = await outbox(services, "webhook.delivery")
    assert (message.status, message.attempts, message.last_error) == ("pending", 1, "HTTP 500")

    webhook_receiver.respond_with(204)
    clock.set_offset(timedelta(seconds=services.settings.outbox_backoff_seconds + 1))
    await drain(services)

    [message] = await outbox(services, "webhook.delivery")
    assert message.status == "done"
    assert [(a.ok, a.status_code) for a in await attempts(services)] == [(False, 500), (True, 204)]
    assert {a.outbox_id for a in await attempts(services)} == {message.id}
    assert len(webhook_receiver.requests) == 2


async def test_gone_endpoint_is_given_up_at_once(
    services: Services, webhook_receiver: WebhookReceiver
) -> None:
    world = await make_world(services)
    await subscribe(services, world, webhook_receiver.url)
    webhook_receiver.respond_with(410)
    await deliver(services, world)

    await drain(services)
    clock.set_offset(timedelta(hours=2))
    await drain(services)

    [message] = await outbox(services, "webhook.delivery")
    assert (message.status, message.last_error) == ("dead", "HTTP 410")
    assert [(a.ok, a.status_code) for a in await attempts(services)] == [(False, 410)]
    assert len(webhook_receiver.requests) == 1
    # A dead webhook is the subscriber's loss, not the addressee's: the document stays put.
    async with services.db.session() as session:
        rows = await session.exec(select(OutboxMessage).where(OutboxMessage.kind == "paper.job"))
        assert rows.all() == []


async def test_webhook_post_keeps_the_host_name_of_the_url(
    services: Services, webhook_receiver: WebhookReceiver
) -> None:
    """The connection goes to the address that was checked, the request still names the host
    of the URL (the Host header; the TLS server name likewise)."""
    world = await make_world(services)
    await subscribe(services, world, f"http://localhost:{webhook_receiver.port}/hooks/mailbox")
    await deliver(services, world)

    await drain(services)

    [request] = webhook_receiver.requests
    assert request.headers["host"] == f"localhost:{webhook_receiver.port}"
