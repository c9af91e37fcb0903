"""Scans of the legal clock: deemed delivery of documents not picked up in time, and reminders
for documents still waiting.

Each scan reads only the database, so it catches up after downtime by itself; works in bounded
batches, one short transaction each; and changes a delivery only when its state says the step
is still to be taken, so running it twice does nothing twice. With several instances on
PostgreSQL the scans run in one of them at a time (an advisory lock held by each batch's
transaction); rows are also locked ``SKIP LOCKED`` so a scan never waits on a pickup.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.db import try_advisory_lock
from mailbox.deliveries import rules
from mailbox.deliveries.events import NoticeEvent, enqueue
from mailbox.deliveries.legal_clock import reminder_days_for, reminders_due
from mailbox.evidence import log as evidence
from mailbox.evidence.log import EvidenceEntry, EvidenceType
from mailbox.models import Account, Delivery, DeliveryStatus, Document
from mailbox.services import Services

__all__ = ["LEGAL_SCAN_LOCK", "ScanReport", "deem_overdue", "run_legal_scans", "send_reminders"]

log = logging.getLogger("mailbox.deliveries.scans")

# Advisory lock key of the legal scans ("mbx" + 1); the digest uses its own key.
LEGAL_SCAN_LOCK = 0x6D_62_78_01
BATCH = 500
# Reminder days are whole days after consignment, at least one.
_EARLIEST_REMINDER = timedelta(days=1)


@dataclass(frozen=True)
class ScanReport:
    deemed_delivered: int
    reminders: int
    not_leader: bool  # another instance holds the scan lock: nothing was done here


class _NotLeader(Exception):
    """Another instance runs the scans right now."""


async def run_legal_scans(services: Services, *, batch: int = BATCH) -> ScanReport:
    """Deem overdue deliveries delivered, then queue the reminders that fell due (in this
    order, so that a document deemed delivered gets no reminder)."""
    try:
        deemed = await deem_overdue(services, batch=batch)
        reminded = await send_reminders(services, batch=batch)
    except _NotLeader:
        log.debug("legal scans skipped: another instance holds the lock")
        return ScanReport(0, 0, not_leader=True)
    if deemed or reminded:
        log.info("legal scans: %d deemed delivered, %d reminders queued", deemed, reminded)
    return ScanReport(deemed, reminded, not_leader=False)


@asynccontextmanager
async def _as_leader(services: Services) -> AsyncIterator[AsyncSession]:
    """One batch's write transaction, holding the scans' advisory lock; :class:`_NotLeader`
    when another instance holds it."""
    async with services.db.write() as session:
        if not await try_advisory_lock(session, LEGAL_SCAN_LOCK):
            raise _NotLeader
        yield session


async def deem_overdue(services: Services, *, batch: int = BATCH) -> int:
    """Deem every ``available`` delivery whose pickup deadline passed delivered: DeemedDelivery
    evidence, and the alert email and webhook event of ``deemed_delivered``."""
    total = 0
    while True:
        async with _as_leader(services) as session:
            at = now()
            rows = (
                await session.exec(
                    select(Delivery, Account, Document.original_sha256, Document.sealed_sha256)
                    .join(Account, col(Account.id) == col(Delivery.account_id))
                    .join(Document, col(Document.id) == col(Delivery.document_id))
                    .where(Delivery.status == DeliveryStatus.AVAILABLE)
                    .where(col(Delivery.deemed_due_at) <= at)
                    .order_by(col(Delivery.deemed_due_at), col(Delivery.id))
                    .limit(batch)
                    .with_for_update(of=Delivery, skip_locked=True)  # type: ignore[arg-type]
                )
            ).all()
            entries = []
            for delivery, _account, original, sealed in rows:
                draft = rules.deem_delivered(delivery, at=at)
                entries.append(EvidenceEntry(draft, delivery.id, original, sealed, at))
                session.add(delivery)
            records = await evidence.append_entries(session, services.evidence, entries)
            for (delivery, account, _original, _sealed), record in zip(rows, records, strict=True):
                enqueue(session, delivery, account, EvidenceType.DEEMED_DELIVERY, record=record)
        total += len(rows)
        if len(rows) < batch:
            return total


async def send_reminders(services: Services, *, batch: int = BATCH) -> int:
    """Queue one ``email.reminder`` for each ``available`` delivery whose next reminder day
    (the account's schedule, else the service's) has come; each reminder day at most once."""
    default_days = services.settings.reminder_days
    total, after = 0, ""
    while True:
        async with _as_leader(services) as session:
            at = now()
            rows = (
                await session.exec(
                    select(Delivery, Account)
                    .join(Account, col(Account.id) == col(Delivery.account_id))
                    .where(Delivery.status == DeliveryStatus.AVAILABLE)
                    .where(col(Delivery.available_at) <= at - _EARLIEST_REMINDER)
                    .where(col(Delivery.id) > after)
                    .order_by(col(Delivery.id))
                    .limit(batch)
                    .with_for_update(of=Delivery, skip_locked=True)  # type: ignore[arg-type]
                )
            ).all()
            for delivery, account in rows:
                assert delivery.available_at is not None
                due = reminders_due(
                    delivery.available_at, reminder_days_for(account, default_days), at
                )
                if due <= delivery.reminders_sent:
                    continue
                # Missed reminder days (downtime) count as sent: one reminder, not a burst.
                delivery.reminders_sent = due
                session.add(delivery)
                enqueue(session, delivery, account, NoticeEvent.REMINDER)
                total += 1
        if len(rows) < batch:
            return total
        after = rows[-1][0].id
