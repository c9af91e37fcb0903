"""Reading deliveries: an account holder's inbox (newest first, keyset-paginated), one
delivery with its timeline, and an office's view of what it dispatched.

Who reads what is the access policy's answer (mailbox.identity.policy); other people's
deliveries are not found, never forbidden. Query functions take ``session`` keyword-only and
never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, String, bindparam, tuple_, union_all
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.db import UTCDateTime
from mailbox.errors import NotFound
from mailbox.identity.policy import (
    Action,
    accounts_where,
    can_read_delivery,
    can_read_evidence,
    can_read_office,
)
from mailbox.identity.principal import Principal
from mailbox.models import Delivery, Document, EvidenceRecord, Office
from mailbox.pagination import check_page, decode_cursor, encode_cursor

__all__ = [
    "DeliveryView",
    "InboxPage",
    "delivery_view",
    "get_delivery",
    "get_dispatch",
    "list_inbox",
    "list_on_paper",
    "read_delivery",
    "timeline",
]


MERGED_ACCOUNTS_MAX = 100  # more accounts than this are read in one scan and sorted


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
    check_page(limit, cursor)
    accounts = accounts_where(principal, Action.READ_DELIVERY)
    if account_id is not None:
        accounts = [a for a in accounts if a == account_id]
    if not accounts:
        return InboxPage([], None)
    one_by_one = len(accounts) <= MERGED_ACCOUNTS_MAX
    params: dict[str, Any] = {"count": limit + 1}
    if one_by_one:
        params.update((f"account_{n}", a) for n, a in enumerate(accounts))
    else:
        params["accounts"] = accounts
    if dossier_number:
        params["dossier_number"] = dossier_number.strip()
    if cursor:
        params["at"], params["last_id"] = decode_cursor(cursor)
    query = _inbox_query(
        len(accounts) if one_by_one else None, unread, bool(dossier_number), bool(cursor)
    )
    rows = (await session.exec(query, params=params)).all()
    items = [DeliveryView(d, doc, off) for d, doc, off in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1].delivery
        assert last.available_at is not None
        next_cursor = encode_cursor(last.available_at, last.id)
    return InboxPage(items, next_cursor)


ON_PAPER_MAX = 25


async def list_on_paper(
    *,
    session: AsyncSession,
    principal: Principal,
    dossier_number: str | None = None,
    limit: int = ON_PAPER_MAX,
) -> list[DeliveryView]:
    """The principal's deliveries that went on paper without ever being made available in the
    mailbox (so the inbox, which lists what was made available, does not show them), newest
    first: the inbox page shows them apart, with their paper status and reason."""
    accounts = accounts_where(principal, Action.READ_DELIVERY)
    if not accounts:
        return []
    query = (
        select(Delivery, Document, Office)
        .join(Document, col(Document.id) == col(Delivery.document_id))
        .join(Office, col(Office.id) == col(Delivery.office_id))
        .where(
            col(Delivery.account_id).in_(accounts),
            col(Delivery.available_at).is_(None),
            col(Delivery.paper_queued_at).is_not(None),
        )
        .order_by(col(Delivery.paper_queued_at).desc(), col(Delivery.id).desc())
        .limit(limit)
    )
    if dossier_number:
        query = query.where(col(Delivery.dossier_number) == dossier_number.strip())
    return [DeliveryView(d, doc, off) for d, doc, off in (await session.exec(query)).all()]


@lru_cache(maxsize=256)
def _inbox_query(
    accounts: int | None, unread: bool | None, by_dossier: bool, after_cursor: bool
) -> Select[Any]:
    """The inbox statement of one shape, built once (building it per request made more garbage
    than the page itself, and the collector's pauses showed in the p99); values are bound at
    execution: ``account_0``.. (or ``accounts``), ``count``, ``dossier_number``, ``at`` and
    ``last_id``.

    Each of ``accounts`` accounts is read by its own scan of the index, newest first and
    stopped after ``count`` rows, and the scans are merged: with ``account_id IN (...)``
    neither SQLite nor PostgreSQL can read the index in order across accounts, so they fetch
    and sort every delivery of every account (0.4 s a page for a law firm with 100k
    deliveries). ``None``: that one ``IN`` scan all the same, for more accounts than a merge
    should take (SQLite allows 500 parts in a compound SELECT)."""
    conditions: list[ColumnElement[bool]] = [col(Delivery.available_at).is_not(None)]
    if unread is True:
        conditions.append(col(Delivery.picked_up_at).is_(None))  # ix_delivery_unread
    elif unread is False:
        conditions.append(col(Delivery.picked_up_at).is_not(None))
    if by_dossier:
        conditions.append(col(Delivery.dossier_number) == bindparam("dossier_number"))
    if after_cursor:
        # A row value, not "at < t OR (at = t AND id < i)": both databases seek the index to
        # it, where the OR form reads every newer entry first (deep pages cost their depth).
        conditions.append(
            tuple_(col(Delivery.available_at), col(Delivery.id))
            < tuple_(bindparam("at", type_=UTCDateTime), bindparam("last_id", type_=String))
        )
    count = bindparam("count", type_=Integer)

    def newest_of(account: ColumnElement[bool]) -> Select[Any]:
        return (
            sa_select(Delivery)
            .where(account, *conditions)
            .order_by(col(Delivery.available_at).desc(), col(Delivery.id).desc())
            .limit(count)
        )

    def account(n: int) -> ColumnElement[bool]:
        return col(Delivery.account_id) == bindparam(f"account_{n}", type_=String)

    if accounts is None:
        every = col(Delivery.account_id).in_(bindparam("accounts", expanding=True))
        newest = newest_of(every).subquery()
    elif accounts == 1:
        newest = newest_of(account(0)).subquery()
    else:
        arms = union_all(*(sa_select(newest_of(account(n)).subquery()) for n in range(accounts)))
        merged = arms.subquery()
        newest = (
            sa_select(merged)
            .order_by(merged.c.available_at.desc(), merged.c.id.desc())
            .limit(count)
            .subquery()
        )
    page = aliased(Delivery, newest, name="page")
    return (
        select(page, Document, Office)
        .join(Document, col(Document.id) == page.document_id)
        .join(Office, col(Office.id) == page.office_id)
        .order_by(page.available_at.desc(), page.id.desc())
    )


async def delivery_view(*, session: AsyncSession, delivery_id: str) -> DeliveryView:
    """One delivery with its document and office, whoever asks (callers decide access first,
    or know the delivery is the caller's own); :class:`NotFound` if there is none."""
    row = await _view_row(session, delivery_id)
    if row is None:
        raise NotFound(f"No delivery {delivery_id}")
    return DeliveryView(*row)


async def get_delivery(
    *, session: AsyncSession, principal: Principal, delivery_id: str
) -> DeliveryView:
    """One delivery the principal may read; :class:`NotFound` otherwise (never 403)."""
    row = await _view_row(session, delivery_id)
    if row is None or not can_read_delivery(principal, row[0]):
        raise NotFound(f"No delivery {delivery_id}")
    return DeliveryView(*row)


async def _view_row(session: AsyncSession, delivery_id: str) -> Any:
    return (
        await session.exec(
            select(Delivery, Document, Office)
            .join(Document, col(Document.id) == col(Delivery.document_id))
            .join(Office, col(Office.id) == col(Delivery.office_id))
            .where(Delivery.id == delivery_id)
        )
    ).one_or_none()


async def get_dispatch(
    *, session: AsyncSession, principal: Principal, delivery_id: str
) -> DeliveryView:
    """A delivery as its dispatching office sees it; NotFound for other offices' ones."""
    view = await get_delivery(session=session, principal=principal, delivery_id=delivery_id)
    if not can_read_office(principal, view.delivery.office_id):
        raise NotFound(f"No dispatch {delivery_id}")
    return view


async def read_delivery(
    *, session: AsyncSession, principal: Principal, delivery_id: str, as_office: bool = False
) -> tuple[DeliveryView, list[EvidenceRecord]]:
    """A delivery the principal may read and its evidence timeline, if it may read that too;
    with ``as_office`` only as its dispatching office sees it (:func:`get_dispatch`)."""
    find = get_dispatch if as_office else get_delivery
    view = await find(session=session, principal=principal, delivery_id=delivery_id)
    if not can_read_evidence(principal, view.delivery):
        raise NotFound(f"No delivery {delivery_id}")
    return view, await timeline(session=session, delivery_id=delivery_id)


async def timeline(*, session: AsyncSession, delivery_id: str) -> list[EvidenceRecord]:
    """The delivery's evidence records in the order they were written."""
    result = await session.exec(
        select(EvidenceRecord)
        .where(EvidenceRecord.delivery_id == delivery_id)
        .order_by(col(EvidenceRecord.seq))
    )
    return list(result.all())
