"""The one rule of coverage: when an expected item counts as received on time, and the class
of each expected item (pure). Every surface (the report, its CSV, the page, the reminder
email, the CLI) classifies through :func:`classify` and words a class through :data:`WORDS`.

An item is due on a day in the hub's time zone (``Office.time_zone``); it is on time when it
reached the hub's mailbox before that day ended there (:func:`due_end`, midnight at the end of
the due day), late when it arrived after; not received, it is missing once the due day has
ended and pending until then.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from mailbox.clock import to_utc

__all__ = ["WORDS", "ItemClass", "classify", "day_start", "due_end", "local_day"]


class ItemClass(StrEnum):
    """The class of an expected item in a coverage report."""

    ON_TIME = "on_time"  # received on or before its due day
    LATE = "late"  # received after its due day
    MISSING = "missing"  # not received, and its due day has ended
    PENDING = "pending"  # not received, its due day not yet ended


# How every surface words each class (the report's page, its reminder emails, the CLI).
WORDS: dict[ItemClass, str] = {
    ItemClass.ON_TIME: "on time",
    ItemClass.LATE: "late (received after its due date)",
    ItemClass.MISSING: "missing (not received, due date passed)",
    ItemClass.PENDING: "pending (not received, not yet due)",
}


def day_start(day: date, zone: str) -> datetime:
    """The first instant of ``day`` in time zone ``zone``, in UTC."""
    return to_utc(datetime.combine(day, time.min, tzinfo=ZoneInfo(zone)))


@lru_cache(maxsize=4096)
def due_end(due_on: date, zone: str) -> datetime:
    """The end of the due day in the hub's zone (the first instant of the next day), in UTC:
    an item received before it is on time."""
    return day_start(due_on + timedelta(days=1), zone)


def local_day(at: datetime, zone: str) -> date:
    """The day ``at`` falls on in time zone ``zone``."""
    return to_utc(at).astimezone(ZoneInfo(zone)).date()


def classify(due_on: date, received_at: datetime | None, *, zone: str, at: datetime) -> ItemClass:
    """The class of an item due on ``due_on`` (a day in the hub's zone ``zone``), received at
    ``received_at`` (``None``: not received), as it stands at ``at``."""
    end = due_end(due_on, zone)  # the same few hundred days for a whole report: cached
    if received_at is not None:
        return ItemClass.ON_TIME if to_utc(received_at) < end else ItemClass.LATE
    return ItemClass.MISSING if to_utc(at) >= end else ItemClass.PENDING
