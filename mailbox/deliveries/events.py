"""What follow-up work each delivery event causes: the outbox rows written in the same
transaction as the event (alert emails, webhook events, paper jobs). The outbox drain sends
them after the commit.

An event is named by the type of the evidence record it writes (ETSI EN 319 522 names,
:class:`~mailbox.evidence.log.EvidenceType`); the few events that write no record (a reminder
is a courtesy, not a legal step) are a :class:`NoticeEvent`. :data:`FOLLOW_UPS` is the one
table from an event to its webhook event name and its alert email kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.evidence.log import EvidenceType
from mailbox.models import Account, Delivery, EvidenceRecord, OutboxKind, OutboxMessage

__all__ = [
    "FEED_EVENTS",
    "FOLLOW_UPS",
    "WEBHOOK_EVENTS",
    "DeliveryEvent",
    "FollowUp",
    "NoticeEvent",
    "enqueue",
]


class NoticeEvent(StrEnum):
    """Delivery events that write no evidence record but still cause notices."""

    REMINDER = "Reminder"  # a document still waits for pickup (the legal clock's reminder days)


DeliveryEvent = EvidenceType | NoticeEvent


@dataclass(frozen=True)
class FollowUp:
    """What one delivery event causes after its commit.

    ``name`` is the event's short name, as stored in its outbox rows (an alert's payload
    ``event``) and, after ``delivery.``, as subscribers know it (:attr:`webhook_event`).
    """

    name: str
    email: OutboxKind | None = None  # the alert to the account's people, if any
    webhook: bool = True  # whether webhook subscribers hear of it
    paper_job: bool = False  # whether it hands the document to the paper process
    in_digest: bool = False  # an account in digest mode gets the daily digest instead

    @property
    def webhook_event(self) -> str | None:
        """The event type subscribers receive (``delivery.available``), if they hear of it."""
        return f"delivery.{self.name}" if self.webhook else None


FOLLOW_UPS: Mapping[DeliveryEvent, FollowUp] = {
    EvidenceType.CONTENT_CONSIGNMENT: FollowUp(
        "available", email=OutboxKind.EMAIL_NEW_DELIVERY, in_digest=True
    ),
    EvidenceType.CONTENT_HANDOVER: FollowUp("picked_up"),
    EvidenceType.DEEMED_DELIVERY: FollowUp(
        "deemed_delivered", email=OutboxKind.EMAIL_DEEMED_DELIVERY
    ),
    EvidenceType.RELAY_TO_NON_ERDS: FollowUp("paper_queued", paper_job=True),
    EvidenceType.PAPER_POSTED: FollowUp("paper_posted"),
    EvidenceType.PAPER_RETURNED: FollowUp("paper_returned"),
    EvidenceType.NOTIFICATION_FAILURE: FollowUp("notification_failed"),
    NoticeEvent.REMINDER: FollowUp("reminder", email=OutboxKind.EMAIL_REMINDER, webhook=False),
}

# The webhook event type of each event subscribers hear of.
WEBHOOK_EVENTS: Mapping[DeliveryEvent, str] = {
    event: follow_up.webhook_event
    for event, follow_up in FOLLOW_UPS.items()
    if follow_up.webhook_event is not None
}

# The event name of each evidence record type the event feed shows: the webhook events that
# are evidence records (a reminder writes none, so it is in neither).
FEED_EVENTS: Mapping[EvidenceType, str] = {
    event: name for event, name in WEBHOOK_EVENTS.items() if isinstance(event, EvidenceType)
}


def enqueue(
    session: AsyncSession,
    delivery: Delivery,
    account: Account | None,
    event: DeliveryEvent,
    *,
    record: EvidenceRecord | None = None,
) -> list[OutboxMessage]:
    """Add the outbox rows that ``event`` on ``delivery`` causes (none for an event without
    follow-up, such as ContentAccess); the caller commits. Without ``account`` no alert is
    written. ``record`` is the evidence record of the event (every event but a reminder has
    one): the webhook event carries its id and position, so that subscribers get the event id
    and cursor the event feed shows for it."""
    follow_up = FOLLOW_UPS.get(event)
    if follow_up is None:
        return []
    rows: list[OutboxMessage] = []
    alerted = account is not None and not (follow_up.in_digest and account.notify_mode == "digest")
    if follow_up.email is not None and alerted:
        rows.append(
            OutboxMessage(
                kind=follow_up.email,
                delivery_id=delivery.id,
                account_id=delivery.account_id,
                payload={"event": follow_up.name},
            )
        )
    if follow_up.webhook_event is not None:
        rows.append(
            OutboxMessage(
                kind=OutboxKind.WEBHOOK_EVENT,
                delivery_id=delivery.id,
                account_id=delivery.account_id,
                payload={
                    "event_type": follow_up.webhook_event,
                    "office_id": delivery.office_id,
                    **({"evidence_id": record.id, "seq": record.seq} if record else {}),
                },
            )
        )
    if follow_up.paper_job:
        rows.append(
            OutboxMessage(
                kind=OutboxKind.PAPER_JOB,
                delivery_id=delivery.id,
                account_id=delivery.account_id,
                payload={"reason": delivery.paper_reason},
            )
        )
    session.add_all(rows)
    return rows
