"""The legal clock: when a document not picked up counts as delivered, when reminders fall
due (the account's schedule or the service default), and which date counts for deadlines.
Pure functions of times and settings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from mailbox.models import Account

__all__ = ["deadline_date", "deemed_due_at", "reminder_days_for", "reminders_due"]


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


def reminders_due(available_at: datetime, schedule_days: Sequence[int], at: datetime) -> int:
    """How many reminders of ``schedule_days`` have fallen due by ``at``. A scan that finds
    this above ``reminders_sent`` sends ONE reminder and counts all the due ones as sent, so
    that a service back from downtime does not send a burst of stale reminders."""
    return sum(1 for days in schedule_days if at >= available_at + timedelta(days=days))


def reminder_days_for(account: Account, default: Sequence[int]) -> list[int]:
    """Days after consignment to remind: the account's own schedule (``[]`` = none), or the
    service default while the account has not chosen (``None``)."""
    return list(default if account.reminder_days is None else account.reminder_days)
