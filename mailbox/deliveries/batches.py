"""Bulk dispatch: create a batch from an upload, and read batches and their items.

:func:`create_batch` checks an upload stored on disk (:mod:`.batch_files`) against its
manifest (:mod:`.manifest`) and writes the batch with one pending item per manifest line in
one transaction, or refuses the whole upload with one problem naming every bad line: nothing
is dispatched until the manifest is right. The items are then dispatched in the background
(:mod:`.batch_runner`), each through the single dispatch, so a batch's documents are sealed,
evidenced, alerted and sent to paper exactly as one-by-one dispatches are.

Who may do what is the access policy's: an office's dispatchers create batches, its
dispatchers and auditors read them; anyone else is told a batch does not exist.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from sqlalchemy import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.deliveries.batch_files import BatchUpload, batches_root, open_batch_files
from mailbox.deliveries.manifest import ManifestLine, manifest_format, read_manifest
from mailbox.errors import FieldError, InvalidRequest, NotFound
from mailbox.identity.policy import Action, can_read_office, offices_where
from mailbox.identity.principal import Principal
from mailbox.ids import new_id
from mailbox.models import (
    BatchItemStatus,
    DispatchBatch,
    DispatchBatchItem,
    Office,
)
from mailbox.pagination import check_limit, check_page, decode_cursor, encode_cursor
from mailbox.services import Services

__all__ = [
    "ITEM_STATUSES",
    "BatchPage",
    "ItemPage",
    "batch_now",
    "create_batch",
    "list_batches",
    "list_items",
    "new_upload",
    "read_batch",
    "refused_items",
]

ITEM_STATUSES = tuple(status.value for status in BatchItemStatus)


def new_upload(services: Services) -> BatchUpload:
    """A fresh upload directory for a batch about to be received."""
    settings = services.settings
    return BatchUpload(
        batches_root(settings.data_dir),
        new_id("bat"),
        file_limit=settings.upload_limit_bytes,
        total_limit=settings.batch_upload_limit_bytes,
    )


async def create_batch(
    services: Services,
    upload: BatchUpload,
    *,
    office_id: str,
    actor: str,
    declared_format: str | None = None,
) -> DispatchBatch:
    """Check the stored ``upload`` and queue its batch for ``office_id``: the batch and one
    pending item per manifest line, in one transaction. The upload is removed when refused
    (:class:`InvalidRequest` naming every bad line, 413 for an oversized ZIP entry)."""
    try:
        upload.close_parts()
        data = upload.manifest_bytes()
        fmt = manifest_format(upload.manifest_filename, declared_format)
        if not upload.has_archive and not upload.parts:
            raise InvalidRequest(
                "A bulk dispatch needs its documents: one ZIP (archive) or file parts (files)",
                errors=[FieldError("archive", "a ZIP of the manifest's documents is required")],
            )
        files = open_batch_files(upload.path, file_limit=services.settings.upload_limit_bytes)
        try:
            names = files.names()
        finally:
            files.close()
        lines = read_manifest(data, fmt, files=names, max_items=services.settings.batch_max_items)
        async with services.db.session() as session:
            if await session.get(Office, office_id) is None:
                raise InvalidRequest(f"No office {office_id}")
        upload.keep()
        batch = DispatchBatch(
            id=upload.batch_id,
            office_id=office_id,
            created_by=actor,
            manifest_format=fmt,
            source="zip" if upload.has_archive else "parts",
            total=len(lines),
        )
        async with services.db.write() as session:
            session.add(batch)
            await session.flush()
            await _insert_items(session, batch.id, lines)
    except BaseException:
        upload.discard()
        raise
    return batch


async def _insert_items(session: AsyncSession, batch_id: str, lines: list[ManifestLine]) -> None:
    # Core inserts in slices: a manifest of 100,000 lines is written in seconds, not minutes.
    rows = [
        {
            "id": new_id("bti"),
            "batch_id": batch_id,
            "line": line.line,
            "office_reference": line.office_reference,
            "recipient_account_id": line.recipient_account_id,
            "kind_code": line.kind_code,
            "dossier_number": line.dossier_number,
            "title": line.title,
            "filename": line.filename,
            "status": BatchItemStatus.PENDING.value,
            "replayed": False,
            "attempts": 0,
        }
        for line in lines
    ]
    for start in range(0, len(rows), 2000):
        await session.execute(insert(DispatchBatchItem), rows[start : start + 2000])


async def read_batch(
    *, session: AsyncSession, principal: Principal, batch_id: str
) -> DispatchBatch:
    """The batch, for its office's dispatchers and auditors; :class:`NotFound` for others."""
    batch = await session.get(DispatchBatch, batch_id)
    if batch is None or not can_read_office(principal, batch.office_id):
        raise NotFound(f"No batch {batch_id}")
    return batch


@dataclass(frozen=True)
class BatchPage:
    items: list[DispatchBatch]
    next_cursor: str | None


async def list_batches(
    *, session: AsyncSession, principal: Principal, limit: int = 25, cursor: str | None = None
) -> BatchPage:
    """The batches of the offices the principal reads, newest first, keyset-paged."""
    check_page(limit, cursor)
    offices = offices_where(principal, Action.READ_OFFICE)
    if not offices:
        return BatchPage([], None)
    statement = select(DispatchBatch).where(col(DispatchBatch.office_id).in_(offices))
    if cursor:
        at, last_id = decode_cursor(cursor)
        statement = statement.where(
            (col(DispatchBatch.created_at) < at)
            | ((col(DispatchBatch.created_at) == at) & (col(DispatchBatch.id) < last_id))
        )
    statement = statement.order_by(
        col(DispatchBatch.created_at).desc(), col(DispatchBatch.id).desc()
    ).limit(limit + 1)
    rows = list((await session.exec(statement)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return BatchPage(rows, encode_cursor(rows[-1].created_at, rows[-1].id) if more else None)


@dataclass(frozen=True)
class ItemPage:
    items: list[DispatchBatchItem]
    next_cursor: str | None


def _item_cursor(line: int) -> str:
    return base64.urlsafe_b64encode(f"line:{line}".encode()).decode().rstrip("=")


def _after_line(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = raw.partition(":")
        if prefix != "line" or not number.isdecimal() or len(number) > 9:
            raise ValueError(raw)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequest(
            "The cursor is not one this service issued",
            errors=[FieldError("cursor", "malformed")],
        ) from None


async def list_items(
    *,
    session: AsyncSession,
    principal: Principal,
    batch_id: str,
    limit: int = 100,
    cursor: str | None = None,
    status: str | None = None,
) -> ItemPage:
    """The batch's items in manifest order (``status``: only those), keyset-paged by line."""
    check_limit(limit)
    after = _after_line(cursor) if cursor else 0
    if status is not None and status not in ITEM_STATUSES:
        raise InvalidRequest(
            f"Unknown item status {status!r}",
            errors=[FieldError("status", " or ".join(ITEM_STATUSES))],
        )
    await read_batch(session=session, principal=principal, batch_id=batch_id)
    statement = select(DispatchBatchItem).where(
        DispatchBatchItem.batch_id == batch_id, col(DispatchBatchItem.line) > after
    )
    if status is not None:
        statement = statement.where(DispatchBatchItem.status == status)
    statement = statement.order_by(col(DispatchBatchItem.line)).limit(limit + 1)
    rows = list((await session.exec(statement)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return ItemPage(rows, _item_cursor(rows[-1].line) if more else None)


# --- for the operator's command line (no principal: whoever runs it runs the install) -------


async def batch_now(*, session: AsyncSession, batch_id: str) -> DispatchBatch:
    """The batch as it stands now (read afresh); :class:`NotFound` when there is none."""
    batch = await session.get(DispatchBatch, batch_id, populate_existing=True)
    if batch is None:
        raise NotFound(f"No batch {batch_id}")
    return batch


async def refused_items(
    *, session: AsyncSession, batch_id: str, limit: int = 20
) -> list[DispatchBatchItem]:
    """The first ``limit`` refused items of the batch, in manifest order."""
    statement = (
        select(DispatchBatchItem)
        .where(
            DispatchBatchItem.batch_id == batch_id,
            DispatchBatchItem.status == BatchItemStatus.REFUSED,
        )
        .order_by(col(DispatchBatchItem.line))
        .limit(limit)
    )
    return list((await session.exec(statement)).all())
