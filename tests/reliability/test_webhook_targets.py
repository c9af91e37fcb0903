"""Webhook SSRF at connect time: a host is resolved on every post and each address checked, so
a name that resolves to this machine or the internal network (DNS rebinding, or a subscription
made before the rule) is never posted to. The subscriber learns only that the target address
is not allowed, and the failure is its target's (permanent), never the addressee's."""

from __future__ import annotations

import pytest
from sqlmodel import select

from mailbox.config import Settings
from mailbox.models import OutboxMessage
from mailbox.services import Services
from notifier import TARGET_NOT_ALLOWED
from tests.factories import deliver, make_world
from tests.fixtures.smtp import WebhookReceiver
from tests.reliability.test_alerts import drain, outbox
from tests.reliability.test_webhooks import attempts, subscribe


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Production rules for targets (the reliability settings allow private ones)."""
    return settings.model_copy(update={"webhook_allow_private_targets": False})


async def test_webhook_target_resolving_to_loopback_refused_at_connect_time(
    services: Services, webhook_receiver: WebhookReceiver
) -> None:
    world = await make_world(services)
    # A name, not an address: only resolving it shows that it leads to this machine.
    await subscribe(services, world, f"http://localhost:{webhook_receiver.port}/hooks/mailbox")
    await deliver(services, world)

    await drain(services)

    assert webhook_receiver.requests == []
    [message] = await outbox(services, "webhook.delivery")
    assert (message.status, message.last_error) == ("dead", TARGET_NOT_ALLOWED)
    [attempt] = await attempts(services)
    assert (attempt.ok, attempt.status_code, attempt.detail) == (False, None, TARGET_NOT_ALLOWED)
    # The subscriber's target failed, not the addressee's alerts: no paper for the document.
    async with services.db.session() as session:
        rows = await session.exec(select(OutboxMessage).where(OutboxMessage.kind == "paper.job"))
        assert rows.all() == []


async def test_webhook_target_literal_loopback_refused_at_connect_time(
    services: Services, webhook_receiver: WebhookReceiver
) -> None:
    world = await make_world(services)
    await subscribe(services, world, webhook_receiver.url)  # http://127.0.0.1:<port>/...
    await deliver(services, world)

    await drain(services)

    assert webhook_receiver.requests == []
    [attempt] = await attempts(services)
    assert attempt.detail == TARGET_NOT_ALLOWED
