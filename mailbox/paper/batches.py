"""Print batches: each office's letters not yet printed, merged into one PDF that carries the
service's seal, with a manifest (CSV) the printing contractor works from. Built by the daily
job (``paper_batch_hour_utc``), by ``python -m mailbox paper batch`` and by the button on the
paper room's page.

Downloading a batch's PDF hands the content of every letter in it out of the service: each of
its deliveries gets a ContentAccess record (by whom, from where, which batch), as a download
would. The manifest holds addresses but no content.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass

from pypdf import PdfReader, PdfWriter
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.deliveries import rules
from mailbox.errors import Conflict, NotFound
from mailbox.evidence import log as evidence
from mailbox.evidence.log import EvidenceEntry
from mailbox.identity.policy import can_print
from mailbox.identity.principal import Principal
from mailbox.models import Delivery, DeliveryStatus, Document, Office, PaperLetter, PrintBatch
from mailbox.services import Services
from mailbox.storage.blobs import BlobStore

__all__ = [
    "MANIFEST_COLUMNS",
    "BatchFile",
    "build_print_batches",
    "download_batch",
    "list_batches",
]

log = logging.getLogger("mailbox.paper")

MANIFEST_COLUMNS = ("position", "delivery_id", "address", "pages", "first_page")


@dataclass(frozen=True)
class _Merged:
    pdf: bytes
    manifest: bytes
    pages: int


@dataclass(frozen=True)
class BatchFile:
    """A batch's file as downloaded: its name, media type and bytes."""

    filename: str
    media_type: str
    content: bytes


def _merge(
    blobs: BlobStore, letters: list[PaperLetter], progress: Callable[[int], None] | None
) -> _Merged:
    """The letters one after the other in one PDF, and the manifest saying where each is."""
    writer = PdfWriter()
    manifest = io.StringIO()
    table = csv.writer(manifest, lineterminator="\n")
    table.writerow(MANIFEST_COLUMNS)
    page = 1
    for position, letter in enumerate(letters, start=1):
        reader = PdfReader(io.BytesIO(blobs.get(letter.blob_id)))
        writer.append(reader, import_outline=False)
        pages = len(reader.pages)
        table.writerow([position, letter.delivery_id, letter.address, pages, page])
        page += pages
        if progress is not None:
            progress(1)
    output = io.BytesIO()
    writer.write(output)
    return _Merged(output.getvalue(), manifest.getvalue().encode(), page - 1)


async def _waiting(session: AsyncSession, office_id: str | None) -> dict[str, list[PaperLetter]]:
    """The letters of ``office_id`` (of every office when ``None``) in no batch yet whose
    delivery still waits to be posted, by office, oldest first."""
    query = (
        select(PaperLetter)
        .join(Delivery, col(Delivery.id) == PaperLetter.delivery_id)
        .where(col(PaperLetter.batch_id).is_(None))
        .where(Delivery.status == DeliveryStatus.PAPER_QUEUED)
        .order_by(col(PaperLetter.created_at), col(PaperLetter.id))
    )
    if office_id is not None:
        query = query.where(PaperLetter.office_id == office_id)
    by_office: dict[str, list[PaperLetter]] = {}
    for letter in (await session.exec(query)).all():
        by_office.setdefault(letter.office_id, []).append(letter)
    return by_office


async def build_print_batches(
    services: Services,
    *,
    actor: str = "service",
    office_id: str | None = None,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> list[PrintBatch]:
    """One print batch per office (only ``office_id`` when given) of the letters not yet in
    one; none for an office without such letters. ``on_total`` hears how many letters there
    are, ``progress`` each one merged. Each batch is sealed and stored (blobs) before one
    transaction records it; :class:`Conflict` when another run batched its letters first."""
    async with services.db.session() as session:
        waiting = await _waiting(session, office_id)
        offices = {o.id: o for o in (await session.exec(select(Office))).all() if o.id in waiting}
    if on_total is not None:
        on_total(sum(len(letters) for letters in waiting.values()))
    batches = []
    for office, letters in waiting.items():
        batches.append(
            await _build_one(services, offices[office], letters, actor=actor, progress=progress)
        )
    return batches


async def _build_one(
    services: Services,
    office: Office,
    letters: list[PaperLetter],
    *,
    actor: str,
    progress: Callable[[int], None] | None,
) -> PrintBatch:
    merged = await asyncio.to_thread(_merge, services.blobs, letters, progress)
    sealed = await services.sealing.seal(
        merged.pdf, reason=f"Print batch of {office.name}: {len(letters)} letters"
    )
    blob_id = await asyncio.to_thread(services.blobs.put, sealed)
    manifest_id = await asyncio.to_thread(services.blobs.put, merged.manifest)
    ids = [letter.id for letter in letters]
    async with services.db.write() as session:
        locked = (
            await session.exec(
                select(PaperLetter).where(col(PaperLetter.id).in_(ids)).with_for_update()
            )
        ).all()
        if any(letter.batch_id is not None for letter in locked):
            raise Conflict("These letters were put in another print batch meanwhile")
        batch = PrintBatch(
            office_id=office.id,
            letters=len(letters),
            pages=merged.pages,
            blob_id=blob_id,
            manifest_blob_id=manifest_id,
            created_by=actor,
            created_at=now(),
        )
        session.add(batch)
        await session.flush()
        position = {letter_id: n for n, letter_id in enumerate(ids, start=1)}
        for letter in locked:
            letter.batch_id, letter.batch_position = batch.id, position[letter.id]
            session.add(letter)
    log.info(
        "print batch built",
        extra={"office_id": office.id, "batch_id": batch.id, "letters": len(letters)},
    )
    return batch


async def list_batches(
    *, session: AsyncSession, office_id: str, limit: int = 50
) -> list[PrintBatch]:
    """The office's print batches, newest first."""
    rows = await session.exec(
        select(PrintBatch)
        .where(PrintBatch.office_id == office_id)
        .order_by(col(PrintBatch.created_at).desc(), col(PrintBatch.id).desc())
        .limit(limit)
    )
    return list(rows.all())


async def download_batch(
    services: Services, principal: Principal, batch_id: str, *, part: str, ip: str | None
) -> BatchFile:
    """A batch's sealed PDF (``part="pdf"``) or its manifest (``"manifest"``) for someone who
    works the office's paper room (:class:`NotFound` for anyone else). The PDF is read and
    authenticated first, then its handing out is recorded on each of its deliveries."""
    async with services.db.session() as session:
        batch = await session.get(PrintBatch, batch_id)
        if batch is None or not can_print(principal, batch.office_id):
            raise NotFound(f"No print batch {batch_id}")
    day = f"{batch.created_at:%Y%m%d}"
    if part == "manifest":
        content = await asyncio.to_thread(services.blobs.get, batch.manifest_blob_id)
        return BatchFile(f"print-batch-{day}-{batch.id}.csv", "text/csv", content)
    content = await asyncio.to_thread(services.blobs.get, batch.blob_id)
    await _record_download(services, principal, batch, ip=ip)
    return BatchFile(f"print-batch-{day}-{batch.id}.pdf", "application/pdf", content)


async def _record_download(
    services: Services, principal: Principal, batch: PrintBatch, *, ip: str | None
) -> None:
    at = now()
    async with services.db.write() as session:
        rows = (
            await session.exec(
                select(Delivery, Document)
                .join(PaperLetter, col(PaperLetter.delivery_id) == Delivery.id)
                .join(Document, col(Document.id) == Delivery.document_id)
                .where(PaperLetter.batch_id == batch.id)
                .order_by(col(PaperLetter.batch_position))
            )
        ).all()
        entries = [
            EvidenceEntry(
                rules.hand_to_printer(delivery, actor=principal.actor, ip=ip, batch_id=batch.id),
                delivery.id,
                document.original_sha256,
                document.sealed_sha256,
                at,
            )
            for delivery, document in rows
        ]
        await evidence.append_entries(session, services.evidence, entries)
