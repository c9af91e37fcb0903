"""The paper channel of the outbox: a ``paper.job`` message becomes the delivery's letter.

:meth:`PaperChannel.handle` (outside any transaction) reads the delivery, draws a retrieval
code, renders the letter (:mod:`.letters`: a cover page, then the sealed document) and stores
it encrypted in the blob store; :meth:`PaperChannel.record` (in the drain's transaction) writes
the :class:`~mailbox.models.PaperLetter` and the code's hash. The code itself exists only in
the letter. The job is done when its letter is stored and recorded; the print batch
(:mod:`.batches`) then picks the letter up.

A failure of ours (the disk refuses the letter, the sealed document cannot be read) is
``ours``: the job waits for the channel's next try and the delivery stays ``paper_queued``;
nothing is said about it to anyone but the operator. A job whose delivery is no longer waiting
for a letter (it has one already, or is not ``paper_queued``) is skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.channels import Handled, Recorded, Settled
from mailbox.clock import now
from mailbox.deliveries.data_documents import document_words, is_data, readable_fields
from mailbox.deliveries.legal_clock import letter_sentence
from mailbox.errors import MailboxError
from mailbox.models import (
    Account,
    Delivery,
    DeliveryStatus,
    Document,
    Office,
    OutboxMessage,
    PaperLetter,
    RetrievalCode,
)
from mailbox.paper.codes import code_hash, new_code
from mailbox.paper.letters import LetterContent, render_letter
from mailbox.services import Services
from notifier import SendOutcome

__all__ = ["Lettered", "PaperChannel", "retrieval_url"]

log = logging.getLogger("mailbox.paper")

_NOT_WAITING = "skipped: the delivery is not waiting for a letter"


@dataclass(frozen=True, kw_only=True)
class Lettered(Handled):
    """A letter rendered and stored: what :meth:`PaperChannel.record` writes of it."""

    delivery_id: str
    office_id: str
    blob_id: str
    pages: int
    address: str
    code_hash: str


def retrieval_url(base_url: str, code: str) -> str:
    """Where the letter's QR code leads: the retrieval page with the code filled in."""
    return f"{base_url.rstrip('/')}/retrieve?code={quote(code)}"


class PaperChannel:
    """Handles ``paper.*`` messages for the drain (see :class:`mailbox.channels.ChannelHandler`)."""

    def __init__(self, services: Services) -> None:
        self._services = services

    async def handle(
        self, messages: Sequence[OutboxMessage], *, connections: int | None
    ) -> dict[str, Handled]:
        """Render and store the letter of each job's delivery."""
        ids = [m.delivery_id for m in messages if m.delivery_id]
        async with self._services.db.session() as session:
            parts = await _letter_parts(session, ids)
        handled: dict[str, Handled] = {}
        for message in messages:
            found = parts.get(message.delivery_id or "")
            if found is None:
                handled[message.id] = Handled(SendOutcome(True, False, _NOT_WAITING), "skipped")
                continue
            delivery, document, account, office = found
            if account is None:  # no addressee to write to: retried, then dead (the operator)
                detail = "no postal address for the letter of this delivery"
                handled[message.id] = Handled(SendOutcome(False, False, detail))
                continue
            handled[message.id] = await self._letter(delivery, document, account, office)
        return handled

    async def _letter(
        self, delivery: Delivery, document: Document, account: Account, office: Office
    ) -> Handled:
        services = self._services
        code = new_code()
        base_url = services.settings.public_base_url
        zone = ZoneInfo(office.time_zone or "UTC")
        try:
            sealed = await asyncio.to_thread(services.blobs.get, document.sealed_sha256)
            printed = {}
            if is_data(document.media_type):  # no pages of its own: its fields are printed
                printed = {
                    "data_fields": tuple(
                        readable_fields(sealed, document.media_type, kind_code=document.kind_code)
                    ),
                    "data_words": document_words(document.media_type, document.kind_code),
                    "data_sha256": document.sealed_sha256,
                }
            letter = await asyncio.to_thread(
                render_letter,
                LetterContent(
                    language=account.language,
                    office_name=office.name,
                    office_address=office.postal_address,
                    recipient_name=account.name,
                    recipient_address=account.postal_address,
                    letter_date=now().astimezone(zone).date(),
                    dossier_number=delivery.dossier_number,
                    delivery_id=delivery.id,
                    title=document.title,
                    legal_effect=letter_sentence(delivery, at=now()),
                    code=code,
                    retrieval_url=retrieval_url(base_url, code),
                    base_url=base_url,
                    document=sealed,
                    **printed,
                ),
            )
            blob_id = await asyncio.to_thread(services.blobs.put, letter.pdf)
        except MailboxError as exc:  # our disk: the job waits, the delivery stays queued
            log.error(
                "paper letter not stored: %s",
                exc.detail,
                extra={"delivery_id": delivery.id, "office_id": delivery.office_id},
            )
            return Handled(SendOutcome(False, False, f"letter not stored: {exc.detail}", ours=True))
        outcome = SendOutcome(True, False, "letter rendered and stored")
        return Lettered(
            outcome,
            counted_as="completed",
            delivery_id=delivery.id,
            office_id=delivery.office_id,
            blob_id=blob_id,
            pages=letter.pages,
            address=letter.address,
            code_hash=code_hash(code),
        )

    async def record(
        self, session: AsyncSession, settled: Sequence[Settled], *, at: datetime
    ) -> Recorded:
        """Each letter stored: its row and its retrieval code's hash (once per delivery)."""
        letters = [
            item.handled
            for item in settled
            if item.status == "done" and isinstance(item.handled, Lettered)
        ]
        if not letters:
            return Recorded()
        ids = [letter.delivery_id for letter in letters]
        existing = set(
            (
                await session.exec(
                    select(PaperLetter.delivery_id).where(col(PaperLetter.delivery_id).in_(ids))
                )
            ).all()
        )
        for letter in letters:
            if letter.delivery_id in existing:  # a job run twice: the first letter stands
                continue
            existing.add(letter.delivery_id)
            session.add(
                PaperLetter(
                    delivery_id=letter.delivery_id,
                    office_id=letter.office_id,
                    blob_id=letter.blob_id,
                    pages=letter.pages,
                    address=letter.address,
                    created_at=at,
                )
            )
            session.add(RetrievalCode(delivery_id=letter.delivery_id, code_hash=letter.code_hash))
        await session.flush()
        return Recorded()


async def _letter_parts(
    session: AsyncSession, delivery_ids: list[str]
) -> dict[str, tuple[Delivery, Document, Account | None, Office]]:
    """The deliveries of ``delivery_ids`` still waiting for a letter, with what it prints."""
    if not delivery_ids:
        return {}
    rows = (
        await session.exec(
            select(Delivery, Document, Account, Office)
            .join(Document, col(Document.id) == Delivery.document_id)
            .join(Account, col(Account.id) == Delivery.account_id, isouter=True)
            .join(Office, col(Office.id) == Delivery.office_id)
            .where(col(Delivery.id).in_(delivery_ids))
            .where(Delivery.status == DeliveryStatus.PAPER_QUEUED)
        )
    ).all()
    lettered = set(
        (
            await session.exec(
                select(PaperLetter.delivery_id).where(
                    col(PaperLetter.delivery_id).in_(delivery_ids)
                )
            )
        ).all()
    )
    return {row[0].id: tuple(row) for row in rows if row[0].id not in lettered}  # type: ignore[misc]
