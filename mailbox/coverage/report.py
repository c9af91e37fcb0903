"""The coverage report of a hub for a period: each item it expected to be due in the period,
classified (:func:`mailbox.coverage.rule.classify`) with the delivery that brought it, the
counts per sending office, and what reached its mailbox in the period that nobody said to
expect (read functions: ``session`` keyword-only, never a commit).

Three queries whatever the size of the list: the expected items of the period (index
``ix_expected_item_due``), the deliveries into the hub's mailbox that match them (joined on
sender code, kind and number; index ``ix_delivery_dossier``), and the deliveries received in
the period that match no expected item (index ``ix_delivery_inbox``, then the expected items'
unique key).
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.coverage.rule import ItemClass, classify, day_start, local_day
from mailbox.errors import FieldError, InvalidRequest
from mailbox.models import Account, Delivery, DeliveryStatus, Document, ExpectedItem, Office
from mailbox.timefmt import rfc3339_or_none

__all__ = [
    "CSV_COLUMNS",
    "MAX_PERIOD_DAYS",
    "MAX_UNEXPECTED",
    "Coverage",
    "CoverageItem",
    "Received",
    "SenderCounts",
    "coverage",
    "coverage_csv",
    "period_of",
    "sender_of",
]

# A report covers at most a year (a leap year's days).
MAX_PERIOD_DAYS = 366
# Deliveries received but not expected listed in one report (the oldest first).
MAX_UNEXPECTED = 5000
# The report's CSV: one row per expected item, the fields of the JSON's items.
CSV_COLUMNS = (
    "sender",
    "kind",
    "international_application_number",
    "due_on",
    "status",
    "delivery_id",
    "received_at",
    "reminded_at",
)
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_SENDER = re.compile(r"^[A-Z0-9]{2,16}$")


@dataclass(frozen=True)
class CoverageItem:
    """One expected item and where it stands."""

    id: str
    sender: str
    kind: str
    international_application_number: str
    due_on: date
    status: ItemClass
    delivery_id: str | None
    received_at: datetime | None
    reminded_at: datetime | None


@dataclass(frozen=True)
class SenderCounts:
    """A sending office's items of the period, by class."""

    sender: str
    expected: int
    on_time: int
    late: int
    missing: int
    pending: int


@dataclass(frozen=True)
class Received:
    """A delivery into the hub's mailbox that no expected item names."""

    delivery_id: str
    sender: str
    kind: str
    international_application_number: str
    received_at: datetime


@dataclass(frozen=True)
class Coverage:
    """The report: the hub, the period (days in its zone, both included), the day it was made
    (``today``, in the hub's zone), per-sender counts, the items and the unexpected ones."""

    hub: Office
    period_from: date
    period_to: date
    today: date
    senders: list[SenderCounts]
    items: list[CoverageItem]
    unexpected: list[Received]
    unexpected_truncated: bool


def period_of(from_text: str | None, to_text: str | None, *, today: date) -> tuple[date, date]:
    """The period a request names (``YYYY-MM-DD`` each, both days included); without a day, the
    calendar month of ``today``. :class:`InvalidRequest` naming each bad field: a date that is
    not one, ``from`` after ``to``, a period longer than a year."""
    errors: list[FieldError] = []
    first = today.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    days = {}
    for field, text, default in (("from", from_text, first), ("to", to_text, last)):
        if text is None or not text.strip():
            days[field] = default
            continue
        parsed = _date(text.strip())
        if parsed is None:
            errors.append(FieldError(field, f"{text[:40]!r} is not a date (YYYY-MM-DD)"))
        else:
            days[field] = parsed
    if not errors and days["from"] > days["to"]:
        errors.append(FieldError("from", "is after to"))
    elif not errors and (days["to"] - days["from"]).days + 1 > MAX_PERIOD_DAYS:
        errors.append(FieldError("to", f"the period is longer than {MAX_PERIOD_DAYS} days"))
    if errors:
        raise InvalidRequest("The period is not valid", errors=errors)
    return days["from"], days["to"]


def _date(text: str) -> date | None:
    if not _DATE.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def sender_of(text: str | None) -> str | None:
    """The sending office's code a request names, upper-cased; :class:`InvalidRequest` when it
    is not an office code."""
    if text is None or not text.strip():
        return None
    code = text.strip().upper()
    if not _SENDER.match(code):
        raise InvalidRequest(
            "The sender is not an office code",
            errors=[FieldError("sender", "2-16 letters or digits")],
        )
    return code


async def coverage(
    *,
    session: AsyncSession,
    hub: Office,
    period_from: date,
    period_to: date,
    sender: str | None = None,
    at: datetime,
) -> Coverage:
    """The coverage of ``hub`` for the items due from ``period_from`` to ``period_to`` (days
    in the hub's zone, both included), of one sending office or all, as it stands at ``at``."""
    zone = hub.time_zone
    # Columns, not entities: a year of a busy hub is tens of thousands of rows.
    expected_query = (
        select(
            ExpectedItem.id,
            ExpectedItem.sender_code,
            ExpectedItem.kind,
            ExpectedItem.international_application_number,
            ExpectedItem.due_on,
            ExpectedItem.reminded_at,
        )
        .where(ExpectedItem.hub_office_id == hub.id)
        .where(col(ExpectedItem.due_on) >= period_from)
        .where(col(ExpectedItem.due_on) <= period_to)
    )
    if sender is not None:
        expected_query = expected_query.where(ExpectedItem.sender_code == sender)
    expected_query = expected_query.order_by(
        col(ExpectedItem.sender_code),
        col(ExpectedItem.due_on),
        col(ExpectedItem.international_application_number),
        col(ExpectedItem.kind),
    )
    expected = (await session.exec(expected_query)).all()
    received = await _received_for(session, hub, period_from, period_to, sender)
    items = []
    for item_id, code, kind, number, due_on, reminded_at in expected:
        delivery_id, received_at = received.get((code, kind, number), (None, None))
        items.append(
            CoverageItem(
                id=item_id,
                sender=code,
                kind=kind,
                international_application_number=number,
                due_on=due_on,
                status=classify(due_on, received_at, zone=zone, at=at),
                delivery_id=delivery_id,
                received_at=received_at,
                reminded_at=reminded_at,
            )
        )
    unexpected, truncated = await _unexpected(session, hub, period_from, period_to, sender)
    return Coverage(
        hub=hub,
        period_from=period_from,
        period_to=period_to,
        today=local_day(at, zone),
        senders=_counts(items),
        items=items,
        unexpected=unexpected,
        unexpected_truncated=truncated,
    )


def _counts(items: list[CoverageItem]) -> list[SenderCounts]:
    by_sender: dict[str, Counter[ItemClass]] = {}
    for item in items:
        by_sender.setdefault(item.sender, Counter())[item.status] += 1
    return [
        SenderCounts(
            sender=code,
            expected=sum(counts.values()),
            on_time=counts[ItemClass.ON_TIME],
            late=counts[ItemClass.LATE],
            missing=counts[ItemClass.MISSING],
            pending=counts[ItemClass.PENDING],
        )
        for code, counts in sorted(by_sender.items())
    ]


def _into_hub_mailbox():
    return (
        select(
            Delivery.id,
            Office.code,
            Document.kind_code,
            Delivery.dossier_number,
            Delivery.available_at,
        )
        .join(Account, col(Account.id) == col(Delivery.account_id))
        .join(Document, col(Document.id) == col(Delivery.document_id))
        .join(Office, col(Office.id) == col(Delivery.office_id))
        .where(col(Delivery.available_at).is_not(None))
        .where(col(Delivery.status) != DeliveryStatus.REJECTED)
    )


def _matches(hub: Office):
    return and_(
        col(ExpectedItem.hub_office_id) == hub.id,
        col(ExpectedItem.sender_code) == col(Office.code),
        col(ExpectedItem.kind) == col(Document.kind_code),
        col(ExpectedItem.international_application_number) == col(Delivery.dossier_number),
    )


async def _received_for(
    session: AsyncSession, hub: Office, period_from: date, period_to: date, sender: str | None
) -> dict[tuple[str, str, str], tuple[str, datetime]]:
    """The first delivery of each expected item of the period, by (sender, kind, number)."""
    query = (
        _into_hub_mailbox()
        .join(ExpectedItem, _matches(hub))
        .where(Account.office_id == hub.id)
        .where(col(ExpectedItem.due_on) >= period_from)
        .where(col(ExpectedItem.due_on) <= period_to)
    )
    if sender is not None:
        query = query.where(ExpectedItem.sender_code == sender)
    first: dict[tuple[str, str, str], tuple[str, datetime]] = {}
    for delivery_id, code, kind, number, available_at in (await session.exec(query)).all():
        key = (code, kind, number)
        if key not in first or (available_at, delivery_id) < first[key][::-1]:
            first[key] = (delivery_id, available_at)
    return first


async def _unexpected(
    session: AsyncSession, hub: Office, period_from: date, period_to: date, sender: str | None
) -> tuple[list[Received], bool]:
    """Deliveries into the hub's mailbox received in the period that match no expected item."""
    zone = hub.time_zone
    ZoneInfo(zone)  # an unknown zone fails here, before the query
    query = (
        _into_hub_mailbox()
        .outerjoin(ExpectedItem, _matches(hub))
        .where(Account.office_id == hub.id)
        .where(col(Delivery.available_at) >= day_start(period_from, zone))
        .where(col(Delivery.available_at) < day_start(period_to + timedelta(days=1), zone))
        .where(col(ExpectedItem.id).is_(None))
        .order_by(col(Delivery.available_at), col(Delivery.id))
        .limit(MAX_UNEXPECTED + 1)
    )
    if sender is not None:
        query = query.where(Office.code == sender)
    rows = (await session.exec(query)).all()
    found = [
        Received(
            delivery_id=delivery_id,
            sender=code,
            kind=kind,
            international_application_number=number,
            received_at=available_at,
        )
        for delivery_id, code, kind, number, available_at in rows[:MAX_UNEXPECTED]
    ]
    return found, len(rows) > MAX_UNEXPECTED


def coverage_csv(report: Coverage) -> str:
    """The report's items as CSV with a header line (:data:`CSV_COLUMNS`): the same rows, in
    the same order and words, as the JSON's ``items``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in report.items:
        writer.writerow(
            [
                item.sender,
                item.kind,
                item.international_application_number,
                item.due_on.isoformat(),
                item.status.value,
                item.delivery_id or "",
                rfc3339_or_none(item.received_at) or "",
                rfc3339_or_none(item.reminded_at) or "",
            ]
        )
    return out.getvalue()
