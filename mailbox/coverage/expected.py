"""A hub's list of expected items: read and checked (pure), then upserted.

A list is CSV with the header ``sender,kind,international_application_number,due_on`` or JSON
lines with those keys, one item per line: the sending office's code, the kind of item (as the
document's kind code of its delivery, e.g. ``national-phase-entry``, ``search-copy``), the
international application number (``PCT/CCYYYY/NNNNNN``, the published formats' pattern) and
the due date (``YYYY-MM-DD``, a day in the hub's time zone).

:func:`read_expected_list` refuses a bad list with one
:class:`~mailbox.errors.InvalidRequest` naming every bad line and field (``line 7: due_on``);
nothing is written then. :func:`upload_expected` upserts a good list: an item already
expected (same sender, kind and number) takes the new due date.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.deliveries.dispatch import KIND_CODE
from mailbox.errors import FieldError, InvalidRequest
from mailbox.formats.lines import Columns, rows
from mailbox.formats.validation import FIRST_PCT_YEAR, NOTICE_SCHEMA, schema
from mailbox.models import ExpectedItem, Office

__all__ = [
    "COLUMNS",
    "FORMATS",
    "MAX_LINES",
    "MAX_REPORTED",
    "OFFICE_CODE",
    "ExpectedLine",
    "UploadCounts",
    "list_format",
    "read_expected_list",
    "upload_expected",
]

COLUMNS = ("sender", "kind", "international_application_number", "due_on")
FORMATS = ("csv", "jsonl")
MAX_LINES = 50_000
# Bad lines named in one problem; a list with more is refused naming the first ones.
MAX_REPORTED = 1000
OFFICE_CODE = re.compile(r"^[A-Z0-9]{2,16}$")  # as an office is created
APPLICATION_NUMBER = re.compile(
    schema(NOTICE_SCHEMA)["properties"]["international_application_number"]["pattern"]
)
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_MEDIA_TYPES = {
    "text/csv": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/json-lines": "jsonl",
}
_CHUNK = 500


_COLUMNS = Columns(COLUMNS)


@dataclass(frozen=True)
class ExpectedLine:
    """One item of a list, checked, and the line it is on."""

    line: int
    sender: str
    kind: str
    international_application_number: str
    due_on: date


@dataclass(frozen=True)
class UploadCounts:
    """What an upload did: items new to the hub, items whose due date changed, the rest."""

    added: int
    updated: int
    unchanged: int


def list_format(media_type: str | None) -> str:
    """``csv`` or ``jsonl`` for the body's media type; :class:`InvalidRequest` otherwise."""
    kind = (media_type or "").partition(";")[0].strip().lower()
    found = _MEDIA_TYPES.get(kind)
    if found is None:
        raise InvalidRequest(
            f"Send the list as text/csv or application/x-ndjson, not {kind or 'no type'}",
            errors=[FieldError("Content-Type", "text/csv or application/x-ndjson")],
        )
    return found


def read_expected_list(data: bytes, fmt: str, *, today: date) -> list[ExpectedLine]:
    """The items of the list ``data`` in format ``fmt`` (``csv``, ``jsonl``), each checked and
    each named once; one :class:`InvalidRequest` naming every bad line and field otherwise."""
    errors: list[FieldError] = []
    lines: list[ExpectedLine] = []
    seen: dict[tuple[str, str, str], int] = {}
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidRequest(
            "The list is not UTF-8 text", errors=[FieldError("list", "not UTF-8")]
        ) from None
    for number, row in rows(text, fmt, _COLUMNS, errors):
        if len(lines) >= MAX_LINES:
            errors.append(FieldError("list", f"more than {MAX_LINES} lines"))
            break
        line = _checked(number, row, today, errors)
        if line is not None:
            key = (line.sender, line.kind, line.international_application_number)
            if key in seen:
                errors.append(
                    FieldError(
                        f"line {number}: international_application_number",
                        f"the same item (sender, kind, number) is on line {seen[key]}",
                    )
                )
            else:
                seen[key] = number
                lines.append(line)
        if len(errors) >= MAX_REPORTED:
            break
    if not errors and not lines:
        errors.append(FieldError("list", "no lines"))
    if errors:
        shown = errors[:MAX_REPORTED]
        more = " (only the first ones are listed)" if len(errors) >= MAX_REPORTED else ""
        raise InvalidRequest(
            f"The list of expected items has {len(shown)} problem(s){more}; nothing was saved",
            errors=shown,
        )
    return lines


def _checked(
    number: int, row: dict[str, str], today: date, errors: list[FieldError]
) -> ExpectedLine | None:
    values = {name: row[name].strip() for name in COLUMNS}
    found: list[FieldError] = []

    def bad(column: str, message: str) -> None:
        found.append(FieldError(f"line {number}: {column}", message))

    sender = values["sender"].upper()
    if not OFFICE_CODE.match(sender):
        bad("sender", f"{values['sender'][:40]!r} is not an office code (2-16 letters or digits)")
    if not KIND_CODE.match(values["kind"]):
        bad("kind", f"{values['kind'][:40]!r} is not a kind (1-32 letters, digits, '.', '_', '-')")
    iano = values["international_application_number"]
    if not APPLICATION_NUMBER.match(iano):
        bad(
            "international_application_number",
            f"{iano[:40]!r} is not an international application number (PCT/CCYYYY/NNNNNN)",
        )
    elif not FIRST_PCT_YEAR <= int(iano[6:10]) <= today.year + 1:
        bad("international_application_number", f"{iano[6:10]} is not a filing year")
    due_on = _date(values["due_on"])
    if due_on is None:
        bad("due_on", f"{values['due_on'][:40]!r} is not a date (YYYY-MM-DD)")
    if found:
        errors.extend(found)
        return None
    assert due_on is not None
    return ExpectedLine(number, sender, values["kind"], iano, due_on)


def _date(text: str) -> date | None:
    if not _DATE.match(text):
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        return None


async def upload_expected(
    *, session: AsyncSession, hub: Office, rows: Sequence[ExpectedLine]
) -> UploadCounts:
    """Save ``rows`` (checked by :func:`read_expected_list`) as what ``hub`` expects: a new
    item is added; one already expected takes the new due date (and counts as updated when
    the date changed)."""
    existing: dict[tuple[str, str, str], ExpectedItem] = {}
    numbers = sorted({row.international_application_number for row in rows})
    for start in range(0, len(numbers), _CHUNK):
        found = await session.exec(
            select(ExpectedItem)
            .where(ExpectedItem.hub_office_id == hub.id)
            .where(
                col(ExpectedItem.international_application_number).in_(
                    numbers[start : start + _CHUNK]
                )
            )
        )
        for item in found.all():
            existing[(item.sender_code, item.kind, item.international_application_number)] = item
    added = updated = unchanged = 0
    at = now()
    for row in rows:
        item = existing.get((row.sender, row.kind, row.international_application_number))
        if item is None:
            session.add(
                ExpectedItem(
                    hub_office_id=hub.id,
                    sender_code=row.sender,
                    kind=row.kind,
                    international_application_number=row.international_application_number,
                    due_on=row.due_on,
                    uploaded_at=at,
                )
            )
            added += 1
            continue
        if item.due_on == row.due_on:
            unchanged += 1
        else:
            item.due_on = row.due_on
            updated += 1
        item.uploaded_at = at
        session.add(item)
    await session.flush()
    return UploadCounts(added=added, updated=updated, unchanged=unchanged)
