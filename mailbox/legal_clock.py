"""The legal clock: when a document not picked up counts as delivered, when reminders fall
due, and which date counts for deadlines. Pure functions of times and settings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

__all__ = ["deadline_date", "deemed_due_at", "reminder_due", "reminders_due"]


def deemed_due_at(available_at: datetime, days: int) -> datetime:
    """The moment a document made available at ``available_at`` is deemed delivered."""
    return available_at + timedelta(days=days)


def deadline_date(
    available_at: datetime | None,
    picked_up_at: datetime | None,
    deemed_due: datetime | None,
) -> datetime | None:
    """The time that counts for deadlines: the pickup, or the deemed delivery if that is
    earlier. With neither known, the consignment time (``None`` for a document never made
    available electronically)."""
    candidates = [t for t in (picked_up_at, deemed_due) if t is not None]
    if not candidates:
        return available_at
    return min(candidates)


def reminder_due(
    available_at: datetime, reminders_sent: int, schedule_days: Sequence[int], at: datetime
) -> bool:
    """True when the next reminder of ``schedule_days`` (days after consignment) is due."""
    ordered = sorted(schedule_days)
    if reminders_sent >= len(ordered):
        return False
    return at >= available_at + timedelta(days=ordered[reminders_sent])


def reminders_due(available_at: datetime, schedule_days: Sequence[int], at: datetime) -> int:
    """How many reminders of ``schedule_days`` have fallen due by ``at``. A scan that finds
    this above ``reminders_sent`` sends ONE reminder and counts all the due ones as sent, so
    that a service back from downtime does not send a burst of stale reminders."""
    return sum(1 for days in schedule_days if at >= available_at + timedelta(days=days))
