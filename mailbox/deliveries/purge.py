"""The purge job: content past its retention period is removed by crypto-shredding.

1. **Purge** (bounded batches, one short transaction each, holding an advisory lock so that one
   instance at a time does it): every delivery whose legal state is final (picked up, deemed
   delivered, paper posted or returned: never one still available) and whose retention period
   (:mod:`mailbox.deliveries.retention`) has passed gets ``content_purged_at`` and its reason,
   and a ``ContentPurged`` evidence record naming the document's hashes. From that commit on,
   the document answers 410 Gone and the pages say "removed on <date>".
2. **Shred** (after the commit): the blob of every document whose deliveries are all purged is
   crypto-shredded (:meth:`mailbox.storage.blobs.LocalBlobStore.shred`: the wrapped data key
   overwritten, then the file removed), then the document is marked ``blob_shredded_at``. A
   crash between the two shreds again next time, which is harmless.

Like the legal scans it reads only the database, so it catches up after downtime, and running
it twice does nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, exists, func
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from mailbox.clock import now
from mailbox.db import try_advisory_lock
from mailbox.deliveries import rules
from mailbox.deliveries.retention import (
    final_since,
    load_policies,
    purge_details,
    purge_reason,
    resolve,
)
from mailbox.evidence import log as evidence
from mailbox.evidence.log import EvidenceEntry
from mailbox.models import Delivery, Document, Office
from mailbox.services import Services

__all__ = ["PURGE_LOCK", "PurgeReport", "purge_expired", "shred_purged"]

log = logging.getLogger("mailbox.deliveries.purge")

PURGE_LOCK = 0x6D_62_78_10  # advisory lock key of the purge ("mbx" + 0x10)
BATCH = 500


@dataclass(frozen=True)
class PurgeReport:
    purged: int  # deliveries whose content was purged (ContentPurged recorded)
    shredded: int  # blobs crypto-shredded
    not_leader: bool  # another instance holds the purge lock: nothing was done here


class _NotLeader(Exception):
    """Another instance purges right now."""


async def purge_expired(services: Services, *, batch: int = BATCH) -> PurgeReport:
    """Purge the content of every final delivery past its retention period, then shred the
    blobs nobody may read any more."""
    try:
        purged = await _purge_content(services, batch=batch)
    except _NotLeader:
        log.debug("purge skipped: another instance holds the lock")
        return PurgeReport(0, 0, not_leader=True)
    shredded = await shred_purged(services, batch=batch)
    if purged or shredded:
        log.info("retention: %d contents purged, %d blobs shredded", purged, shredded)
    return PurgeReport(purged, shredded, not_leader=False)


@asynccontextmanager
async def _as_leader(services: Services) -> AsyncIterator[AsyncSession]:
    async with services.db.write() as session:
        if not await try_advisory_lock(session, PURGE_LOCK):
            raise _NotLeader
        yield session


async def _purge_content(services: Services, *, batch: int) -> int:
    settings = services.settings
    total, after = 0, ""
    while True:
        async with _as_leader(services) as session:
            at = now()
            policies = await load_policies(session=session)
            shortest = min(
                [settings.retention_document_days]
                + [p.document_days for p in policies.values() if p.document_days is not None]
            )
            # Candidates: final, not purged, and final for at least the shortest period of any
            # office; each one's own period is checked below.
            final_at = func.coalesce(
                col(Delivery.picked_up_at),
                col(Delivery.deemed_delivered_at),
                col(Delivery.paper_returned_at),
                col(Delivery.paper_posted_at),
            )
            rows = (
                await session.exec(
                    select(Delivery, Document, Office.code)
                    .join(Document, col(Document.id) == col(Delivery.document_id))
                    .join(Office, col(Office.id) == col(Delivery.office_id))
                    .where(col(Delivery.status).in_([s.value for s in rules.FINAL_STATES]))
                    .where(col(Delivery.content_purged_at).is_(None))
                    .where(final_at <= at - timedelta(days=shortest))
                    .where(col(Delivery.id) > after)
                    .order_by(col(Delivery.id))
                    .limit(batch)
                    .with_for_update(of=Delivery, skip_locked=True)  # type: ignore[arg-type]
                )
            ).all()
            entries = []
            for delivery, document, office_code in rows:
                final = final_since(delivery)
                if final is None:
                    continue
                since, event = final
                retention = resolve(
                    policies,
                    settings,
                    office_id=delivery.office_id,
                    office_code=office_code,
                    kind_code=document.kind_code,
                )
                if at < since + timedelta(days=retention.document_days):
                    continue
                draft = rules.purge_content(
                    delivery,
                    at=at,
                    reason=purge_reason(retention, since, event),
                    details=purge_details(retention, since, event),
                )
                session.add(delivery)
                entries.append(
                    EvidenceEntry(
                        draft, delivery.id, document.original_sha256, document.sealed_sha256, at
                    )
                )
            await evidence.append_entries(session, services.evidence, entries)
        total += len(entries)
        if len(rows) < batch:
            return total
        after = rows[-1][0].id


async def shred_purged(services: Services, *, batch: int = BATCH) -> int:
    """Crypto-shred the blob of every document not shredded yet whose deliveries are all
    purged (and that shares its blob with no document still readable), then mark it."""
    total = 0
    while True:
        async with services.db.session() as session:
            documents = (await session.exec(_shreddable(batch))).all()
        if not documents:
            return total
        for document in documents:
            await asyncio.to_thread(services.blobs.shred, document.sealed_sha256)
        async with services.db.write() as session:
            at = now()
            for document in documents:
                stored = await session.get(Document, document.id)
                if stored is not None and stored.blob_shredded_at is None:
                    stored.blob_shredded_at = at
                    session.add(stored)
        total += len(documents)
        if len(documents) < batch:
            return total


def _shreddable(batch: int) -> SelectOfScalar[Document]:
    """Documents not shredded yet, with a purged delivery, none still readable, and no twin
    (a document sharing the blob) still readable."""
    purged = aliased(Delivery)
    readable = aliased(Delivery)
    twin = aliased(Document)
    twin_readable = aliased(Delivery)
    return (
        select(Document)
        .where(col(Document.blob_shredded_at).is_(None))
        .where(
            exists().where(
                and_(
                    purged.document_id == Document.id,
                    col(purged.content_purged_at).is_not(None),
                )
            )
        )
        .where(
            ~exists().where(
                and_(
                    readable.document_id == Document.id,
                    col(readable.content_purged_at).is_(None),
                )
            )
        )
        .where(
            ~exists().where(
                and_(
                    twin.sealed_sha256 == Document.sealed_sha256,
                    twin.id != Document.id,
                    twin_readable.document_id == twin.id,
                    col(twin_readable.content_purged_at).is_(None),
                )
            )
        )
        .order_by(col(Document.id))
        .limit(batch)
    )
