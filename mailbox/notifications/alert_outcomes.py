"""What the fate of an alert email means for the deliveries it was about.

Accepted by the mail system: a NotificationForAcceptance record (outbox id, how many
recipients, Message-ID; never the addresses) and ``notified_at``. Failed for good: the rule of
:func:`mailbox.deliveries.rules.on_notification_failure` (NotificationFailure, electronic delivery
suspended, and the document relayed to paper while it waits for pickup), with the webhook
events and paper job those changes cause. Everything is written in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.deliveries import rules
from mailbox.deliveries.events import enqueue
from mailbox.evidence import log as evidence
from mailbox.evidence.log import EvidenceDraft, EvidenceEntry, EvidenceType
from mailbox.models import Account, Delivery, Document, OutboxKind, OutboxMessage
from mailbox.signing.records import EvidenceSigner

__all__ = ["AlertFailed", "AlertSent", "record_alert_outcomes"]

Row = TypeVar("Row", Delivery, Account)

# Alerts whose acceptance is the notification of the document (reminders and the notice of
# deemed delivery come after it and prove nothing new).
_NOTIFYING_KINDS = frozenset({OutboxKind.EMAIL_NEW_DELIVERY, OutboxKind.EMAIL_DIGEST})


# The records of a failure that cause follow-up work (webhook events, the paper job).
_CAUSING = frozenset({EvidenceType.NOTIFICATION_FAILURE, EvidenceType.RELAY_TO_NON_ERDS})


@dataclass(frozen=True)
class AlertSent:
    message: OutboxMessage
    recipients: int
    message_id: str


@dataclass(frozen=True)
class AlertFailed:
    message: OutboxMessage
    reason: str


def deliveries_of(message: OutboxMessage) -> list[str]:
    """The deliveries an alert is about: its own, or the ones a digest lists."""
    if message.delivery_id:
        return [message.delivery_id]
    return [str(i) for i in message.payload.get("delivery_ids", ())]


async def record_alert_outcomes(
    *,
    session: AsyncSession,
    signer: EvidenceSigner,
    sent: Sequence[AlertSent],
    failed: Sequence[AlertFailed],
    at: datetime,
) -> int:
    """Write the evidence and state changes of ``sent`` and ``failed`` alerts; return how
    many deliveries went to paper. The caller commits."""
    notifying = [s for s in sent if s.message.kind in _NOTIFYING_KINDS]
    ids = {i for s in notifying for i in deliveries_of(s.message)}
    ids.update(i for f in failed for i in deliveries_of(f.message))
    if not ids:
        return 0
    deliveries = await _lock(session, Delivery, ids)
    hashes = await _document_hashes(session, deliveries.values())
    entries: list[EvidenceEntry] = []

    def entry(draft: EvidenceDraft, delivery: Delivery) -> EvidenceEntry:
        original, sealed = hashes.get(delivery.document_id, (None, None))
        return EvidenceEntry(draft, delivery.id, original, sealed, at)

    for alert in notifying:
        for delivery_id in deliveries_of(alert.message):
            delivery = deliveries.get(delivery_id)
            if delivery is None:
                continue
            details = {
                "outbox_id": alert.message.id,
                "kind": alert.message.kind,
                "recipients": alert.recipients,
                "message_id": alert.message_id,
            }
            entries.append(entry(rules.notified(delivery, at=at, details=details), delivery))
            session.add(delivery)
    relayed = 0
    caused: list[tuple[int, Delivery, Account, EvidenceType]] = []
    if failed:
        accounts = await _lock(session, Account, {d.account_id for d in deliveries.values()})
        for failure in failed:
            for delivery_id in deliveries_of(failure.message):
                delivery = deliveries.get(delivery_id)
                account = accounts.get(delivery.account_id) if delivery else None
                if delivery is None or account is None:
                    continue
                drafts = rules.on_notification_failure(
                    delivery,
                    account,
                    at=at,
                    reason=failure.reason,
                    details={"outbox_id": failure.message.id, "kind": failure.message.kind},
                )
                for draft in drafts:
                    if draft.type in _CAUSING:
                        caused.append((len(entries), delivery, account, draft.type))
                    entries.append(entry(draft, delivery))
                if any(d.type == EvidenceType.RELAY_TO_NON_ERDS for d in drafts):
                    relayed += 1
                session.add(delivery)
                session.add(account)
    records = await evidence.append_entries(session, signer, entries)
    # After the append, so that each webhook event names its evidence record.
    for index, delivery, account, event in caused:
        enqueue(session, delivery, account, event, record=records[index])
    return relayed


async def _lock(session: AsyncSession, table: type[Row], ids: set[str]) -> dict[str, Row]:
    """The rows of ``table`` with ``ids``, locked in id order (on PostgreSQL), so that a pickup
    or a settings change racing with the alert's result is seen, not lost."""
    rows = await session.exec(
        select(table)
        .where(col(table.id).in_(sorted(ids)))  # type: ignore[attr-defined]
        .order_by(col(table.id))  # type: ignore[attr-defined]
        .with_for_update()
    )
    return {row.id: row for row in rows.all()}  # type: ignore[attr-defined]


async def _document_hashes(
    session: AsyncSession, deliveries: Iterable[Delivery]
) -> dict[str, tuple[str, str]]:
    document_ids = sorted({d.document_id for d in deliveries})
    rows = await session.exec(
        select(Document.id, Document.original_sha256, Document.sealed_sha256).where(
            col(Document.id).in_(document_ids)
        )
    )
    return {doc_id: (original, sealed) for doc_id, original, sealed in rows}
