"""Time travel for demo and test installs: move the service's clock forward and run the jobs
that fell due (the legal scans: deemed delivery and reminders; then the outbox: their emails,
and paper for the deliveries whose alerts fail for good), so that anyone can watch a delivery
be reminded, deemed delivered or go to paper without waiting.

Refused on any other install (:class:`TravelRefused`). The offset is kept in a file of the
data directory that every process of the install follows (:mod:`mailbox.clock`), so the
running service sees the same time as the command. The clock only moves forward: the evidence
log's times only grow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailbox import clock
from mailbox.config import Settings
from mailbox.deliveries.scans import run_legal_scans
from mailbox.errors import MailboxError
from mailbox.notifications.outbox import drain_until_idle
from mailbox.operations.scheduler_lock import SchedulerTaken, take_scheduler_lock
from mailbox.operations.scheduling import worker_identity
from mailbox.services import Services

__all__ = ["MAX_TRAVEL", "TravelRefused", "TravelReport", "advance", "parse_duration"]

_DURATION = re.compile(r"^\s*(\d{1,6})\s*([dhm])\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}
# Longest single step: beyond a few years a demo shows nothing more.
MAX_TRAVEL = timedelta(days=3660)


class TravelRefused(MailboxError):
    """This install may not travel in time (it is not a demo or test install)."""

    status_code = 403


@dataclass(frozen=True)
class TravelReport:
    """What one step forward did."""

    by: timedelta
    travelled: timedelta  # in total, since the install began travelling
    now: datetime
    deemed_delivered: int
    reminders: int
    sent: int
    relayed_to_paper: int
    drained: bool  # False: another process runs this database's outbox and sends them


def parse_duration(text: str) -> timedelta:
    """``7d``, ``12h`` or ``30m`` as a forward step; ``ValueError`` naming the form otherwise."""
    found = _DURATION.match(text)
    if found is None:
        raise ValueError(
            f"{text!r} is not a duration: a whole number followed by d, h or m (7d, 12h, 30m)"
        )
    by = timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})
    if by <= timedelta(0):
        raise ValueError("the clock only moves forward: give a duration above zero")
    if by > MAX_TRAVEL:
        raise ValueError(f"at most {MAX_TRAVEL.days}d in one step")
    return by


def refusal(settings: Settings) -> str | None:
    """Why this install may not travel in time (``None`` if it may)."""
    if settings.clock_travel_allowed:
        return None
    return (
        "time travel is for demo and test installs only: this install is neither "
        "(set MAILBOX_CLOCK_TRAVEL=true on a test install; `python -m mailbox demo` marks its "
        "own install). Moving a real service's clock would deem documents delivered early."
    )


async def advance(settings: Settings, by: timedelta) -> TravelReport:
    """Move this install's clock forward by ``by``, then run the legal scans and drain the
    outbox as the scheduler would (the drain only when no other process runs this SQLite
    database's jobs: that one sends them at its next round). :class:`TravelRefused` on an
    install that may not travel."""
    reason = refusal(settings)
    if reason is not None:
        raise TravelRefused(reason)
    total = clock.travel(settings.clock_travel_file, by)
    services = Services.start(settings, sealing_workers=0)  # follows the file just written
    try:
        scans = await run_legal_scans(services)
        sent = relayed = 0
        try:
            lock = take_scheduler_lock(settings, holder=f"clock advance ({worker_identity()})")
        except SchedulerTaken:
            drained = False
        else:
            try:
                for report in await drain_until_idle(services, worker_id=worker_identity()):
                    sent += report.sent
                    relayed += report.relayed_to_paper
                drained = True
            finally:
                if lock is not None:
                    lock.release()
        return TravelReport(
            by=by,
            travelled=total,
            now=clock.now(),
            deemed_delivered=scans.deemed_delivered,
            reminders=scans.reminders,
            sent=sent,
            relayed_to_paper=relayed,
            drained=drained,
        )
    finally:
        await services.close()
