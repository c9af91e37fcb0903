"""The webhook channel of the outbox: what a delivery event says to subscribers, which
subscriptions hear it, and posting it.

A ``webhook.event`` outbox row (written with the event, see :mod:`mailbox.deliveries.events`)
fans out in the drain into one ``webhook.delivery`` row per matching active subscription:
account subscriptions hear their account's deliveries, office subscriptions their office's,
and an empty ``events`` list means every event type. Each ``webhook.delivery`` is then posted,
signed with the subscription's secret, and every attempt is kept as a :class:`WebhookAttempt`.
:class:`WebhookChannel` is how the drain does all this.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.channels import Handled, Recorded, Settled
from mailbox.clock import now
from mailbox.models import (
    Delivery,
    DeliveryStatus,
    OutboxKind,
    OutboxMessage,
    WebhookAttempt,
    WebhookSubscription,
)
from mailbox.notifications.feed import FeedCursors, cursors_for
from mailbox.services import Services
from mailbox.timefmt import rfc3339
from notifier import SendOutcome, post_webhook, public_only_transport

__all__ = [
    "WebhookChannel",
    "event_body",
    "fan_out",
    "load_subscriptions",
    "post_all",
    "record_attempt",
]

_CONCURRENT_POSTS = 16
# The outcome of a message whose subscription went away: nothing was posted.
_GONE = SendOutcome(False, True, "subscription removed or paused")
# A webhook.event is done once fanned out, in the very transaction that records it.
_FANNED_OUT = Handled(SendOutcome(True, False, "fanned out"), counted_as="completed")
_TIMESTAMPS = (
    "submitted_at",
    "available_at",
    "deemed_due_at",
    "notified_at",
    "picked_up_at",
    "deemed_delivered_at",
    "paper_queued_at",
    "paper_posted_at",
    "paper_returned_at",
)


def event_body(
    event: OutboxMessage, delivery: Delivery, cursors: FeedCursors | None = None
) -> dict[str, Any]:
    """The JSON body subscribers receive for ``event`` about ``delivery``.

    ``status`` is the state the event moved the delivery to (its state now for events that
    move nothing, such as a failed notification); times are RFC 3339 UTC. ``event_id`` (the
    evidence record's id) and ``cursor`` are those the event feed shows for the same event, so
    a subscriber that missed webhooks reads the feed from the last cursor it got
    (:mod:`mailbox.notifications.feed`). Events written before the feed existed lack them.
    """
    event_type = str(event.payload["event_type"])
    named = event_type.removeprefix("delivery.")
    status = named if named in DeliveryStatus.__members__.values() else delivery.status
    body: dict[str, Any] = {
        "id": event.id,
        "type": event_type,
        "created_at": rfc3339(event.created_at),
        "delivery_id": delivery.id,
        "status": status,
        "account_id": delivery.account_id,
        "office_id": delivery.office_id,
        "dossier_number": delivery.dossier_number,
    }
    evidence_id, seq = event.payload.get("evidence_id"), event.payload.get("seq")
    if isinstance(evidence_id, str) and isinstance(seq, int):
        body["event_id"] = evidence_id
        if cursors is not None:
            body["cursor"] = cursors.make(seq, evidence_id)
    for name in _TIMESTAMPS:
        value = getattr(delivery, name)
        if value is not None:
            body[name] = rfc3339(value)
    return body


async def fan_out(
    *,
    session: AsyncSession,
    events: Sequence[OutboxMessage],
    at: datetime,
    cursors: FeedCursors | None = None,
) -> int:
    """Add one ``webhook.delivery`` row per event and matching subscription; return how many.
    ``cursors`` makes each body's feed cursor. The caller commits (with the events marked
    done, in the same transaction)."""
    if not events:
        return 0
    delivery_ids = {e.delivery_id for e in events if e.delivery_id}
    deliveries = {
        d.id: d
        for d in (
            await session.exec(select(Delivery).where(col(Delivery.id).in_(delivery_ids)))
        ).all()
    }
    accounts = {d.account_id for d in deliveries.values()}
    offices = {d.office_id for d in deliveries.values()}
    subscriptions = (
        await session.exec(
            select(WebhookSubscription)
            .where(col(WebhookSubscription.active).is_(True))
            .where(
                or_(
                    col(WebhookSubscription.account_id).in_(accounts),
                    col(WebhookSubscription.office_id).in_(offices),
                )
            )
            .order_by(col(WebhookSubscription.id))
        )
    ).all()
    rows: list[OutboxMessage] = []
    for event in events:
        delivery = deliveries.get(event.delivery_id or "")
        if delivery is None:
            continue
        event_type = str(event.payload["event_type"])
        body = event_body(event, delivery, cursors)
        for subscription in subscriptions:
            if not _hears(subscription, delivery, event_type):
                continue
            rows.append(
                OutboxMessage(
                    kind=OutboxKind.WEBHOOK_DELIVERY,
                    delivery_id=delivery.id,
                    account_id=delivery.account_id,
                    payload={
                        "subscription_id": subscription.id,
                        "event_id": event.id,
                        "event_type": event_type,
                        "body": body,
                    },
                    next_attempt_at=at,
                )
            )
    session.add_all(rows)
    return len(rows)


def _hears(subscription: WebhookSubscription, delivery: Delivery, event_type: str) -> bool:
    concerned = (
        subscription.account_id == delivery.account_id
        or subscription.office_id == delivery.office_id
    )
    return concerned and (not subscription.events or event_type in subscription.events)


async def load_subscriptions(
    *, session: AsyncSession, messages: Sequence[OutboxMessage]
) -> dict[str, WebhookSubscription]:
    """The subscriptions the ``webhook.delivery`` messages go to, by id."""
    ids = {str(m.payload.get("subscription_id")) for m in messages}
    if not ids:
        return {}
    rows = await session.exec(
        select(WebhookSubscription).where(col(WebhookSubscription.id).in_(ids))
    )
    return {s.id: s for s in rows.all()}


async def post_all(
    messages: Sequence[OutboxMessage],
    subscriptions: dict[str, WebhookSubscription],
    *,
    timeout: float,
    at: datetime,
    allow_private: bool = False,
) -> dict[str, SendOutcome]:
    """POST each ``webhook.delivery`` message to its subscription; one outcome per outbox id.
    A subscription removed or paused since the fan-out is a permanent failure, and so is a
    host that resolves to an address that is not public (unless ``allow_private``): the
    subscriber's fault, never posted to."""
    outcomes: dict[str, SendOutcome] = {}
    limit = asyncio.Semaphore(_CONCURRENT_POSTS)
    timestamp = int(at.timestamp())

    async def post(client: httpx.AsyncClient, message: OutboxMessage) -> None:
        subscription = subscriptions.get(str(message.payload.get("subscription_id")))
        if subscription is None or not subscription.active:
            outcomes[message.id] = _GONE
            return
        body = json.dumps(message.payload["body"], sort_keys=True, separators=(",", ":"))
        async with limit:
            outcomes[message.id] = await post_webhook(
                client,
                subscription.url,
                subscription.secret,
                body.encode(),
                event_id=str(message.payload["event_id"]),
                event_type=str(message.payload["event_type"]),
                timestamp=timestamp,
            )

    if messages:
        transport = public_only_transport(allow_private=allow_private)
        async with httpx.AsyncClient(timeout=timeout, transport=transport) as client:
            await asyncio.gather(*(post(client, m) for m in messages))
    return outcomes


def record_attempt(
    session: AsyncSession, message: OutboxMessage, outcome: SendOutcome, *, at: datetime
) -> None:
    """Keep one attempt at posting ``message`` (the caller commits)."""
    if outcome == _GONE:
        return  # nothing was attempted, and the subscription row may be gone
    session.add(
        WebhookAttempt(
            subscription_id=str(message.payload["subscription_id"]),
            outbox_id=message.id,
            event_type=str(message.payload["event_type"]),
            attempted_at=at,
            ok=outcome.ok,
            status_code=outcome.code,
            detail=outcome.detail[:500],
        )
    )


class WebhookChannel:
    """Handles ``webhook.*`` messages for the drain (see :class:`mailbox.channels.ChannelHandler`):
    posts each ``webhook.delivery`` and keeps the attempt; fans each ``webhook.event`` out."""

    def __init__(self, services: Services) -> None:
        self._services = services

    async def handle(
        self, messages: Sequence[OutboxMessage], *, connections: int | None
    ) -> dict[str, Handled]:
        """Post the ``webhook.delivery`` messages; the events fan out when recorded."""
        hooks = [m for m in messages if m.kind == OutboxKind.WEBHOOK_DELIVERY]
        handled = {m.id: _FANNED_OUT for m in messages if m.kind == OutboxKind.WEBHOOK_EVENT}
        if hooks:
            async with self._services.db.session() as session:
                subscriptions = await load_subscriptions(session=session, messages=hooks)
            settings = self._services.settings
            outcomes = await post_all(
                hooks,
                subscriptions,
                timeout=settings.webhook_timeout_seconds,
                at=now(),
                allow_private=settings.webhook_allow_private_targets,
            )
            handled.update((outbox_id, Handled(o)) for outbox_id, o in outcomes.items())
        return handled

    async def record(
        self, session: AsyncSession, settled: Sequence[Settled], *, at: datetime
    ) -> Recorded:
        """Fan the events out and keep each posting attempt."""
        events = [s.message for s in settled if s.message.kind == OutboxKind.WEBHOOK_EVENT]
        fanned_out = await fan_out(
            session=session, events=events, at=at, cursors=cursors_for(self._services.keys)
        )
        for item in settled:
            if item.message.kind == OutboxKind.WEBHOOK_DELIVERY:
                record_attempt(session, item.message, item.handled.outcome, at=at)
        return Recorded(fanned_out=fanned_out)
