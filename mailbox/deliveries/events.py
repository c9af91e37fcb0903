"""What follow-up work each delivery event causes: the outbox rows written in the same
transaction as the event (alert emails, webhook events, paper jobs). The outbox drain sends
them after the commit."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.models import Account, Delivery, OutboxMessage

__all__ = ["WEBHOOK_EVENTS", "enqueue"]

# Webhook event type for each delivery event.
WEBHOOK_EVENTS = {
    "available": "delivery.available",
    "picked_up": "delivery.picked_up",
    "deemed_delivered": "delivery.deemed_delivered",
    "paper_queued": "delivery.paper_queued",
    "paper_posted": "delivery.paper_posted",
    "notification_failed": "delivery.notification_failed",
}

# Events that alert the account's people by email (immediate mode; digests collect the rest).
EMAIL_EVENTS = {
    "available": "email.new_delivery",
    "deemed_delivered": "email.deemed_delivery",
    "reminder": "email.reminder",
}


def enqueue(
    session: AsyncSession, delivery: Delivery, account: Account | None, event: str
) -> list[OutboxMessage]:
    """Add the outbox rows that ``event`` on ``delivery`` causes; the caller commits."""
    rows: list[OutboxMessage] = []
    email_kind = EMAIL_EVENTS.get(event)
    if email_kind is not None and account is not None:
        digest_only = account.notify_mode == "digest" and event == "available"
        if not digest_only:
            rows.append(
                OutboxMessage(
                    kind=email_kind,
                    delivery_id=delivery.id,
                    account_id=delivery.account_id,
                    payload={"event": event},
                )
            )
    webhook_event = WEBHOOK_EVENTS.get(event)
    if webhook_event is not None:
        rows.append(
            OutboxMessage(
                kind="webhook.event",
                delivery_id=delivery.id,
                account_id=delivery.account_id,
                payload={"event_type": webhook_event, "office_id": delivery.office_id},
            )
        )
    if event == "paper_queued":
        rows.append(
            OutboxMessage(
                kind="paper.job",
                delivery_id=delivery.id,
                account_id=delivery.account_id,
                payload={"reason": delivery.paper_reason},
            )
        )
    session.add_all(rows)
    return rows
