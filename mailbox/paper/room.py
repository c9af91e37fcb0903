"""What the paper room's page shows of one office: its letters waiting to be posted, those
posted lately (which may still come back), and its print batches. Read functions: they take
``session`` and never commit."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.models import Delivery, DeliveryStatus, Office, PaperLetter, PrintBatch
from mailbox.paper.batches import list_batches

__all__ = ["LetterRow", "PaperRoom", "paper_room"]


@dataclass(frozen=True)
class LetterRow:
    delivery: Delivery
    letter: PaperLetter


@dataclass(frozen=True)
class PaperRoom:
    office: Office
    waiting: list[LetterRow]  # paper_queued, with a letter (in a batch or not yet)
    posted: list[LetterRow]  # paper_posted lately: may still come back
    batches: list[PrintBatch]
    unbatched: int  # waiting letters in no batch yet


async def _rows(
    session: AsyncSession, office_id: str, status: DeliveryStatus, limit: int
) -> list[LetterRow]:
    rows = await session.exec(
        select(Delivery, PaperLetter)
        .join(PaperLetter, col(PaperLetter.delivery_id) == Delivery.id)
        .where(PaperLetter.office_id == office_id, Delivery.status == status)
        .order_by(col(PaperLetter.created_at).desc(), col(PaperLetter.id).desc())
        .limit(limit)
    )
    return [LetterRow(delivery, letter) for delivery, letter in rows.all()]


async def paper_room(*, session: AsyncSession, office: Office, limit: int = 100) -> PaperRoom:
    """The paper room of ``office``: up to ``limit`` letters of each kind, newest first."""
    waiting = await _rows(session, office.id, DeliveryStatus.PAPER_QUEUED, limit)
    posted = await _rows(session, office.id, DeliveryStatus.PAPER_POSTED, limit)
    unbatched = (
        await session.exec(
            select(PaperLetter.id)
            .join(Delivery, col(Delivery.id) == PaperLetter.delivery_id)
            .where(PaperLetter.office_id == office.id, col(PaperLetter.batch_id).is_(None))
            .where(Delivery.status == DeliveryStatus.PAPER_QUEUED)
        )
    ).all()
    batches = await list_batches(session=session, office_id=office.id)
    return PaperRoom(office, waiting, posted, batches, len(unbatched))
