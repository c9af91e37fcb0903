"""Reading deliveries: an account holder's inbox (newest first, keyset-paginated), one
delivery with its timeline, and an office's view of what it dispatched.

Query functions take ``session`` keyword-only and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.access import Principal
from mailbox.errors import NotFound
from mailbox.models import Delivery, Document, EvidenceRecord, Office
from mailbox.pagination import check_limit, decode_cursor, encode_cursor

__all__ = ["DeliveryView", "InboxPage", "get_delivery", "list_inbox", "timeline"]


@dataclass(frozen=True)
class DeliveryView:
    delivery: Delivery
    document: Document
    office: Office


@dataclass(frozen=True)
class InboxPage:
    items: list[DeliveryView]
    next_cursor: str | None


async def list_inbox(
    *,
    session: AsyncSession,
    principal: Principal,
    limit: int = 50,
    cursor: str | None = None,
    unread: bool | None = None,
    dossier_number: str | None = None,
    account_id: str | None = None,
) -> InboxPage:
    """Deliveries made available to the principal's accounts, newest first."""
    check_limit(limit)
    accounts = principal.account_ids
    if account_id is not None:
        accounts = [a for a in accounts if a == account_id]
    if not accounts:
        return InboxPage([], None)
    query = (
        select(Delivery, Document, Office)
        .join(Document, col(Document.id) == col(Delivery.document_id))
        .join(Office, col(Office.id) == col(Delivery.office_id))
        .where(col(Delivery.account_id).in_(accounts), col(Delivery.available_at).is_not(None))
    )
    if unread is True:
        query = query.where(col(Delivery.picked_up_at).is_(None))
    elif unread is False:
        query = query.where(col(Delivery.picked_up_at).is_not(None))
    if dossier_number:
        query = query.where(Delivery.dossier_number == dossier_number.strip())
    if cursor:
        at, last_id = decode_cursor(cursor)
        query = query.where(
            or_(
                col(Delivery.available_at) < at,
                and_(col(Delivery.available_at) == at, col(Delivery.id) < last_id),
            )
        )
    query = query.order_by(col(Delivery.available_at).desc(), col(Delivery.id).desc())
    rows = (await session.exec(query.limit(limit + 1))).all()
    items = [DeliveryView(d, doc, off) for d, doc, off in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1].delivery
        assert last.available_at is not None
        next_cursor = encode_cursor(last.available_at, last.id)
    return InboxPage(items, next_cursor)


async def get_delivery(
    *, session: AsyncSession, principal: Principal, delivery_id: str
) -> DeliveryView:
    """One delivery the principal may read; :class:`NotFound` otherwise (never 403)."""
    row = (
        await session.exec(
            select(Delivery, Document, Office)
            .join(Document, col(Document.id) == col(Delivery.document_id))
            .join(Office, col(Office.id) == col(Delivery.office_id))
            .where(Delivery.id == delivery_id)
        )
    ).one_or_none()
    if row is None or not principal.can_read_delivery(row[0]):
        raise NotFound(f"No delivery {delivery_id}")
    return DeliveryView(*row)


async def get_dispatch(
    *, session: AsyncSession, principal: Principal, delivery_id: str
) -> DeliveryView:
    """A delivery as its dispatching office sees it; NotFound for other offices' ones."""
    view = await get_delivery(session=session, principal=principal, delivery_id=delivery_id)
    if not principal.office_roles.get(view.delivery.office_id):
        raise NotFound(f"No dispatch {delivery_id}")
    return view


async def timeline(*, session: AsyncSession, delivery_id: str) -> list[EvidenceRecord]:
    """The delivery's evidence records in the order they were written."""
    result = await session.exec(
        select(EvidenceRecord)
        .where(EvidenceRecord.delivery_id == delivery_id)
        .order_by(col(EvidenceRecord.seq))
    )
    return list(result.all())
