"""An office's list of what it dispatched: newest first, keyset-paginated, with the filters
its clerks and systems ask for (status, kind, dossier, recipient, dispatch dates, "not picked
up after N days", "on paper").

The same filter serves the JSON API (typed query parameters) and the workspace pages (text
typed into a GET form, read by :func:`filter_from_text`); both are checked by
:meth:`DispatchFilter.check`, which names each bad field. Which offices a principal sees is
the access policy's answer (``READ_OFFICE``: dispatchers and auditors); query functions take
``session`` keyword-only and never commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, bindparam, func, tuple_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.db import LIKE_ESCAPE, UTCDateTime, contains_pattern
from mailbox.deliveries.inbox import DeliveryView
from mailbox.errors import FieldError, InvalidRequest
from mailbox.identity.policy import Action, offices_where
from mailbox.identity.principal import Principal
from mailbox.models import Account, Delivery, DeliveryStatus, Document, Office
from mailbox.pagination import check_page, decode_cursor, encode_cursor

__all__ = [
    "MAX_DAYS",
    "DispatchFilter",
    "DispatchItem",
    "DispatchPage",
    "filter_from_text",
    "list_dispatches",
]

MAX_DAYS = 3650  # "not picked up after N days": N in 1..MAX_DAYS
# A recipient named by a part of a name: up to this many matching accounts are read by their
# index one by one; more, and the office's list is read in order checking each row's name.
RECIPIENTS_LOOKED_UP = 50
_RECIPIENT_MAX = 200
_STATUSES = tuple(s.value for s in DeliveryStatus)


@dataclass(frozen=True)
class DispatchFilter:
    """What an office's list is narrowed to; ``None`` (or empty text) means "any". Dispatch
    dates are days in UTC (the lists show times in UTC), both ends included; ``recipient`` is
    an account id or a part of the account's name (any case)."""

    status: str | None = None
    kind: str | None = None
    dossier_number: str | None = None
    recipient: str | None = None
    dispatched_from: date | None = None
    dispatched_to: date | None = None
    not_picked_up_after_days: int | None = None
    on_paper: bool | None = None
    office_id: str | None = None

    def check(self) -> None:
        """:class:`InvalidRequest` naming every bad field, before any query is made."""
        errors: list[FieldError] = []
        if self.status and self.status not in _STATUSES:
            errors.append(FieldError("status", "one of " + ", ".join(_STATUSES)))
        for name, limit in (("kind", 32), ("dossier_number", 64), ("recipient", _RECIPIENT_MAX)):
            value = getattr(self, name)
            if value is not None and len(value) > limit:
                errors.append(FieldError(name, f"at most {limit} characters"))
        if (
            self.dispatched_from is not None
            and self.dispatched_to is not None
            and self.dispatched_from > self.dispatched_to
        ):
            errors.append(FieldError("dispatched_to", "must not be before dispatched_from"))
        days = self.not_picked_up_after_days
        if days is not None and not 1 <= days <= MAX_DAYS:
            errors.append(FieldError("not_picked_up_after_days", f"1..{MAX_DAYS} days"))
        if errors:
            raise InvalidRequest("The dispatch list filter is invalid", errors=errors)

    def as_query(self) -> dict[str, str]:
        """The filter as query parameters (the pages' links to the next page keep it)."""
        query: dict[str, str] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None or value == "":
                continue
            if isinstance(value, bool):
                query[item.name] = "true" if value else "false"
            else:
                query[item.name] = str(value)
        return query


def _text(values: Mapping[str, str], name: str) -> str | None:
    value = (values.get(name) or "").strip()
    return value or None


def filter_from_text(values: Mapping[str, str]) -> DispatchFilter:
    """The filter typed into the workspace's GET form (every field text, empty for "any"):
    :class:`InvalidRequest` naming each field that is not what it should be (a date not written
    YYYY-MM-DD, days not a whole number, an unknown status)."""
    errors: list[FieldError] = []
    dates: dict[str, date | None] = {}
    for name in ("dispatched_from", "dispatched_to"):
        text = _text(values, name)
        try:
            dates[name] = date.fromisoformat(text) if text else None
        except ValueError:
            dates[name] = None
            errors.append(FieldError(name, "a date written YYYY-MM-DD"))
    days_text = _text(values, "not_picked_up_after_days")
    days = None
    if days_text is not None:
        if days_text.isdecimal() and len(days_text) <= 5:
            days = int(days_text)
        else:
            errors.append(FieldError("not_picked_up_after_days", "a whole number of days"))
    paper_text = (_text(values, "on_paper") or "").lower()
    on_paper = {"true": True, "false": False, "": None}.get(paper_text)
    if paper_text not in ("true", "false", ""):
        errors.append(FieldError("on_paper", "true or false"))
    found = DispatchFilter(
        status=_text(values, "status"),
        kind=_text(values, "kind"),
        dossier_number=_text(values, "dossier_number"),
        recipient=_text(values, "recipient"),
        dispatched_from=dates["dispatched_from"],
        dispatched_to=dates["dispatched_to"],
        not_picked_up_after_days=days,
        on_paper=on_paper,
        office_id=_text(values, "office_id"),
    )
    try:
        found.check()
    except InvalidRequest as exc:
        errors.extend(exc.errors)
    if errors:
        raise InvalidRequest("The dispatch list filter is invalid", errors=errors)
    return found


@dataclass(frozen=True)
class DispatchItem:
    """One dispatch as its office lists it: the delivery, its document and office, and the
    name of the account it was served on."""

    view: DeliveryView
    recipient_name: str


@dataclass(frozen=True)
class DispatchPage:
    items: list[DispatchItem]
    next_cursor: str | None


def _starts(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _name_matches(text: str) -> ColumnElement[bool]:
    return func.lower(col(Account.name)).like(contains_pattern(text.strip()), escape=LIKE_ESCAPE)


async def _recipients(session: AsyncSession, text: str) -> list[str] | None:
    """The accounts the recipient text names: the one whose id it is, else those with it in
    their name; ``None`` when more than :data:`RECIPIENTS_LOOKED_UP` names match (the list is
    then read in order, each row's account name checked)."""
    named = await session.get(Account, text.strip())
    if named is not None:
        return [named.id]
    found = await session.exec(
        select(col(Account.id)).where(_name_matches(text)).limit(RECIPIENTS_LOOKED_UP + 1)
    )
    ids = list(found.all())
    return ids if len(ids) <= RECIPIENTS_LOOKED_UP else None


def _conditions(
    found: DispatchFilter, at: datetime, recipients: list[str] | None
) -> list[ColumnElement[bool]]:
    """The filter as SQL; ``recipients``: the accounts the recipient text names (see
    :func:`_recipients`)."""
    conditions: list[ColumnElement[bool]] = []
    if found.status:
        conditions.append(col(Delivery.status) == found.status)  # ix_delivery_office_status
    if found.kind:
        conditions.append(col(Document.kind_code) == found.kind)
    if found.dossier_number:
        conditions.append(col(Delivery.dossier_number) == found.dossier_number.strip())
    if recipients is not None:
        # ix_delivery_office_account, account by account; then sorted (they are few).
        conditions.append(col(Delivery.account_id).in_(recipients))
    elif found.recipient:
        conditions.append(_name_matches(found.recipient))
    if found.dispatched_from is not None:
        conditions.append(col(Delivery.submitted_at) >= _starts(found.dispatched_from))
    if found.dispatched_to is not None and found.dispatched_to < date.max:
        end = _starts(found.dispatched_to + timedelta(days=1))
        conditions.append(col(Delivery.submitted_at) < end)
    if found.not_picked_up_after_days is not None:
        # Made available at least N days ago and still not opened (ix_delivery_office_unread);
        # deliveries on paper were never made available and are not in it.
        cutoff = at - timedelta(days=found.not_picked_up_after_days)
        conditions.append(col(Delivery.picked_up_at).is_(None))
        conditions.append(col(Delivery.available_at).is_not(None))
        conditions.append(col(Delivery.available_at) <= cutoff)
    if found.on_paper is True:
        conditions.append(col(Delivery.paper_queued_at).is_not(None))  # ix_delivery_office_paper
    elif found.on_paper is False:
        conditions.append(col(Delivery.paper_queued_at).is_(None))
    return conditions


async def list_dispatches(
    *,
    session: AsyncSession,
    principal: Principal,
    filters: DispatchFilter = DispatchFilter(),
    limit: int = 50,
    cursor: str | None = None,
) -> DispatchPage:
    """The deliveries dispatched by the offices the principal reads (dispatchers and auditors:
    the access policy's ``READ_OFFICE``), newest dispatch first, narrowed by ``filters``. A bad
    page size, cursor or filter is refused (:class:`InvalidRequest`) before anything is read;
    anyone else gets an empty page, as does an ``office_id`` the principal does not read."""
    check_page(limit, cursor)
    filters.check()
    offices = offices_where(principal, Action.READ_OFFICE)
    if filters.office_id is not None:
        offices = [o for o in offices if o == filters.office_id]
    if not offices:
        return DispatchPage([], None)
    by_office = (
        col(Delivery.office_id) == offices[0]
        if len(offices) == 1
        else col(Delivery.office_id).in_(offices)
    )
    recipients = await _recipients(session, filters.recipient) if filters.recipient else None
    if recipients == []:
        return DispatchPage([], None)
    conditions = [by_office, *_conditions(filters, now(), recipients)]
    if cursor:
        last_at, last_id = decode_cursor(cursor)
        # A row value, which both databases seek the index to (see mailbox.deliveries.inbox).
        conditions.append(
            tuple_(col(Delivery.submitted_at), col(Delivery.id))
            < tuple_(
                bindparam("last_at", last_at, type_=UTCDateTime),
                bindparam("last_id", last_id, type_=String),
            )
        )
    query = (
        select(Delivery, Document, Office, col(Account.name))
        .join(Document, col(Document.id) == col(Delivery.document_id))
        .join(Office, col(Office.id) == col(Delivery.office_id))
        .join(Account, col(Account.id) == col(Delivery.account_id))
        .where(*conditions)
        .order_by(col(Delivery.submitted_at).desc(), col(Delivery.id).desc())
        .limit(limit + 1)
    )
    rows: list[Any] = list((await session.exec(query)).all())
    items = [DispatchItem(DeliveryView(d, doc, off), name) for d, doc, off, name in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1].view.delivery
        next_cursor = encode_cursor(last.submitted_at, last.id)
    return DispatchPage(items, next_cursor)
