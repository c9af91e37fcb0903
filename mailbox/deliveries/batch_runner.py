"""Working off bulk dispatches in the background, one bounded chunk at a time.

1. **Claim** (a short transaction): up to ``batch_chunk_size`` pending items of the oldest
   unfinished batch that no live lease holds get ``claimed_until = now + batch_lease_seconds``.
   On PostgreSQL the items are read ``FOR UPDATE SKIP LOCKED``, so several workers share a
   batch and never take the same item; on SQLite one process runs the scheduler (its lock).
2. **Dispatch**: each item through :func:`mailbox.deliveries.dispatch.dispatch`, the function
   behind ``POST /api/v1/dispatches``, with the item's office reference as its
   Idempotency-Key: sealing (in the sealing pool, ``batch_concurrency`` side by side),
   storage, evidence, alerts and paper are those of a single dispatch, and each item has its
   own transaction. Nothing is held open in the database meanwhile.
3. **Record** (one transaction per chunk): accepted with its delivery id, or refused with the
   problem the single dispatch would have answered; the batch's counts move with them, and the
   batch is done when no item is pending (its upload is then removed).

A worker killed anywhere leaves its items pending; after their lease they are claimed again
and dispatched again, and the Idempotency-Key answers each one that was dispatched before with
its delivery: no item is ever served twice. A failure of ours (a full or broken disk, a
database that stayed away) refuses nothing: the item waits and is tried again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlmodel import col, select

from mailbox.clock import now
from mailbox.deliveries.batch_files import (
    BatchFiles,
    UploadTooLarge,
    batch_dir,
    open_batch_files,
    remove_batch_files,
    remove_stale_uploads,
)
from mailbox.deliveries.data_documents import media_type_for
from mailbox.deliveries.dispatch import DispatchRequest, dispatch, record_rejection
from mailbox.errors import InvalidDocument, MailboxError
from mailbox.models import BatchItemStatus, BatchStatus, DispatchBatch, DispatchBatchItem
from mailbox.services import Services

__all__ = ["ChunkReport", "work_batches"]

log = logging.getLogger("mailbox.deliveries.batches")
# How long an item waits after a failure of ours before it is tried again.
RETRY_AFTER_SECONDS = 30.0
_UNFINISHED = (BatchStatus.QUEUED.value, BatchStatus.RUNNING.value)


@dataclass(frozen=True)
class ChunkReport:
    """What one chunk did."""

    batch_id: str
    claimed: int
    accepted: int = 0
    refused: int = 0
    retrying: int = 0  # failed on our side: pending again, tried later
    lost_lease: int = 0  # recorded by another worker first
    batch_done: bool = False


@dataclass(frozen=True)
class _Claim:
    batch: DispatchBatch
    items: list[DispatchBatchItem]
    lease: datetime


@dataclass(frozen=True)
class _Outcome:
    """What became of one item: ``delivery_id`` (accepted), ``problem`` (refused), or
    neither (a failure of ours: tried again later)."""

    delivery_id: str | None = None
    replayed: bool = False
    problem: dict[str, Any] | None = None


async def work_batches(
    services: Services,
    *,
    worker_id: str,
    batch_id: str | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> list[ChunkReport]:
    """Dispatch chunks of pending items (of ``batch_id`` only, or of the oldest unfinished
        batches first) until none is left to claim, or ``stopping()`` says the process shuts down
        (the chunk in progress is finished first). Uploads cut off a day ago or more are removed
    first."""
    reports: list[ChunkReport] = []
    stale = await asyncio.to_thread(
        remove_stale_uploads, services.settings.data_dir, now=now().timestamp()
    )
    if stale:
        log.warning("removed %d bulk dispatch upload(s) cut off before they were queued", stale)
    while not stopping():
        claim = await _claim(services, batch_id)
        if claim is None:
            break
        outcomes = await _dispatch_chunk(services, claim)
        report = await _record(services, claim, outcomes)
        reports.append(report)
        if report.retrying:
            log.warning(
                "%d bulk dispatch item(s) failed on our side; tried again later",
                report.retrying,
                extra={"batch_id": claim.batch.id, "worker_id": worker_id},
            )
    return reports


async def _claim(services: Services, only: str | None) -> _Claim | None:
    settings = services.settings
    at = now()
    lease = at + timedelta(seconds=settings.batch_lease_seconds)
    async with services.db.write() as session:
        batches = select(DispatchBatch).where(col(DispatchBatch.status).in_(_UNFINISHED))
        if only is not None:
            batches = batches.where(DispatchBatch.id == only)
        batches = batches.order_by(col(DispatchBatch.created_at), col(DispatchBatch.id))
        for batch in (await session.exec(batches.limit(50))).all():
            items = list(
                (
                    await session.exec(
                        select(DispatchBatchItem)
                        .where(
                            DispatchBatchItem.batch_id == batch.id,
                            DispatchBatchItem.status == BatchItemStatus.PENDING,
                            or_(
                                col(DispatchBatchItem.claimed_until).is_(None),
                                col(DispatchBatchItem.claimed_until) < at,
                            ),
                        )
                        .order_by(col(DispatchBatchItem.line))
                        .limit(settings.batch_chunk_size)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
            )
            if not items:
                continue
            for item in items:
                item.claimed_until = lease
                item.attempts += 1
                session.add(item)
            if batch.status == BatchStatus.QUEUED:
                await session.execute(
                    update(DispatchBatch)
                    .where(
                        col(DispatchBatch.id) == batch.id,
                        col(DispatchBatch.status) == BatchStatus.QUEUED.value,
                    )
                    .values(status=BatchStatus.RUNNING.value, started_at=at)
                )
            return _Claim(batch, items, lease)
    return None


async def _dispatch_chunk(services: Services, claim: _Claim) -> dict[str, _Outcome]:
    settings = services.settings
    batch = claim.batch
    width = settings.batch_concurrency or max(2, 2 * services.sealing.workers)
    gate = asyncio.Semaphore(width)
    try:
        files = await asyncio.to_thread(
            open_batch_files,
            batch_dir(settings.data_dir, batch.id),
            file_limit=settings.upload_limit_bytes,
        )
    except (MailboxError, OSError):
        log.exception("the files of a bulk dispatch cannot be read", extra={"batch_id": batch.id})
        return {item.id: _Outcome() for item in claim.items}

    async def one(item: DispatchBatchItem) -> tuple[str, _Outcome]:
        async with gate:
            return item.id, await _dispatch_item(services, batch, item, files)

    try:
        return dict(await asyncio.gather(*(one(item) for item in claim.items)))
    finally:
        files.close()


async def _dispatch_item(
    services: Services, batch: DispatchBatch, item: DispatchBatchItem, files: BatchFiles
) -> _Outcome:
    def request(pdf: bytes) -> DispatchRequest:
        return DispatchRequest(
            office_id=batch.office_id,
            recipient_account_id=item.recipient_account_id,
            kind_code=item.kind_code,
            dossier_number=item.dossier_number,
            title=item.title,
            filename=item.filename,
            pdf=pdf,
            media_type=media_type_for(item.filename),
        )

    try:
        pdf = await asyncio.to_thread(files.read, item.filename)
    except (UploadTooLarge, InvalidDocument) as exc:
        # The archive lied about the entry's size, or the entry is corrupt: the document's
        # fault, refused and recorded as a single dispatch's refusal would be.
        refusal = (
            exc
            if isinstance(exc, InvalidDocument)
            else InvalidDocument(exc.detail, reason="too_large", status=413)
        )
        refusal.evidence_id = await record_rejection(
            services, request(b""), refusal, actor=batch.created_by, actor_ip=None
        )
        return _Outcome(problem=_problem(refusal))
    except (KeyError, OSError):
        log.exception(
            "a document of a bulk dispatch cannot be read",
            extra={"batch_id": batch.id, "line": item.line},
        )
        return _Outcome()
    try:
        dispatched = await dispatch(
            services,
            request(pdf),
            actor=batch.created_by,
            idempotency_key=item.office_reference,
        )
    except MailboxError as exc:
        if exc.status_code >= 500:  # ours: a full or broken disk, the database away
            log.warning(
                "bulk dispatch item failed on our side: %s",
                exc.detail,
                extra={"batch_id": batch.id, "line": item.line},
            )
            return _Outcome()
        return _Outcome(problem=_problem(exc))
    except Exception:
        log.exception("bulk dispatch item failed", extra={"batch_id": batch.id, "line": item.line})
        return _Outcome()
    return _Outcome(delivery_id=dispatched.delivery.id, replayed=not dispatched.created)


def _problem(error: MailboxError) -> dict[str, Any]:
    """The problem details a single dispatch would have answered."""
    return {
        "type": error.type,
        "title": error.title,
        "status": error.status_code,
        "detail": error.detail,
        "errors": [{"field": e.field, "message": e.message} for e in error.errors],
        "evidence_id": error.evidence_id,
    }


async def _record(services: Services, claim: _Claim, outcomes: dict[str, _Outcome]) -> ChunkReport:
    at = now()
    batch_id = claim.batch.id
    accepted = refused = retrying = 0
    async with services.db.write() as session:
        rows = (
            await session.exec(
                select(DispatchBatchItem)
                .where(col(DispatchBatchItem.id).in_(list(outcomes)))
                .order_by(col(DispatchBatchItem.id))
                .with_for_update()
            )
        ).all()
        own = [
            row
            for row in rows
            if row.status == BatchItemStatus.PENDING and row.claimed_until == claim.lease
        ]
        for row in own:
            outcome = outcomes[row.id]
            if outcome.delivery_id is not None:
                row.status, row.delivery_id, row.replayed = (
                    BatchItemStatus.ACCEPTED,
                    outcome.delivery_id,
                    outcome.replayed,
                )
                row.problem, row.finished_at, row.claimed_until = None, at, None
                accepted += 1
            elif outcome.problem is not None:
                row.status, row.problem = BatchItemStatus.REFUSED, outcome.problem
                row.finished_at, row.claimed_until = at, None
                refused += 1
            else:
                row.claimed_until = at + timedelta(seconds=RETRY_AFTER_SECONDS)
                retrying += 1
            session.add(row)
        await session.flush()
        if accepted or refused:
            await session.execute(
                update(DispatchBatch)
                .where(col(DispatchBatch.id) == batch_id)
                .values(
                    accepted=DispatchBatch.accepted + accepted,
                    refused=DispatchBatch.refused + refused,
                )
            )
        batch = await session.get(DispatchBatch, batch_id, populate_existing=True)
        assert batch is not None
        done = batch.pending == 0 and batch.status != BatchStatus.DONE
        if done:
            batch.status, batch.finished_at = BatchStatus.DONE, at
            session.add(batch)
    if done:
        await asyncio.to_thread(remove_batch_files, batch_dir(services.settings.data_dir, batch_id))
        log.info(
            "bulk dispatch done: %d accepted, %d refused",
            batch.accepted,
            batch.refused,
            extra={"batch_id": batch_id, "office_id": batch.office_id},
        )
    return ChunkReport(
        batch_id,
        claimed=len(claim.items),
        accepted=accepted,
        refused=refused,
        retrying=retrying,
        lost_lease=len(claim.items) - len(own),
        batch_done=done,
    )
