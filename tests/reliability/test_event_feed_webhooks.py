"""Webhooks and the event feed tell the same events alike: each webhook carries the event id
and the cursor the feed shows for it, so a subscriber that missed webhooks resumes the feed
from the last one it got."""

from __future__ import annotations

import json

from httpx import AsyncClient

from mailbox.services import Services
from tests.factories import deliver, make_world, token_for
from tests.fixtures.smtp import WebhookReceiver
from tests.reliability.test_alerts import drain
from tests.reliability.test_webhooks import subscribe


async def test_a_webhook_carries_the_event_id_and_cursor_of_the_feed(
    services: Services, client: AsyncClient, webhook_receiver: WebhookReceiver
) -> None:
    world = await make_world(services)
    await subscribe(services, world, webhook_receiver.url)
    delivery = await deliver(services, world)
    await drain(services)
    headers = await token_for(client, world.applicant)
    document = await client.get(f"/api/v1/deliveries/{delivery.id}/document", headers=headers)
    assert document.status_code == 200
    await drain(services)

    hooks = [json.loads(r.body) for r in webhook_receiver.requests]
    feed = (await client.get("/api/v1/events", headers=headers)).json()["items"]

    assert [h["type"] for h in hooks] == ["delivery.available", "delivery.picked_up"]
    assert [(h["event_id"], h["cursor"], h["type"]) for h in hooks] == [
        (e["event_id"], e["cursor"], e["type"]) for e in feed
    ]
    # Missed the second webhook? The first one's cursor brings exactly it back.
    missed = await client.get(
        "/api/v1/events", headers=headers, params={"after": hooks[0]["cursor"]}
    )
    assert [e["event_id"] for e in missed.json()["items"]] == [hooks[1]["event_id"]]
