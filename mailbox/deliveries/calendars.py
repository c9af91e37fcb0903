"""Office calendars and outages as the legal clock reads them: pure values.

A :class:`Calendar` says which days an office is closed (its weekend, the public holidays of its
country and subdivision, its own extra closed days). The holidays come from the ``holidays``
library, pinned in ``pyproject.toml``; a calendar's ``version`` names the library version and a
digest of the office's own closed days, so that a recorded version always means the same days.
A delivery keeps the calendar it was consigned under (:meth:`Calendar.as_json`, a year of closed
days), so its legal date never changes when the library or the office's calendar does.

An :class:`OutagePeriod` is a certified outage of the service (or of one office's part of it);
:func:`shift` applies outages and closed days to the date a rule decided, as the rule says.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any

from mailbox.timefmt import rfc3339

__all__ = [
    "WEEKEND",
    "Calendar",
    "OutagePeriod",
    "Shift",
    "office_calendar",
    "shift",
    "weekday_day",
]

WEEKEND = frozenset({5, 6})  # Saturday, Sunday (date.weekday())
# The closed days a delivery keeps: from a little before consignment (a document may bear an
# earlier date) to well after any date a rule can reach.
KEEP_BEFORE = timedelta(days=62)
KEEP_AFTER = timedelta(days=400)
MAX_WALK = 60  # consecutive closed days beyond which a calendar is surely wrong


def weekday_day(d: date) -> str:
    """``Sat 5 Dec 2026``: a moved date as the clock's sentences write it."""
    return f"{d:%a} {d.day} {d:%b} {d.year}"


@dataclass(frozen=True)
class Calendar:
    """The days an office is closed. ``closed`` maps a day to why (a holiday's name, or
    ``"closed by the office"``); ``weekend`` holds ``date.weekday()`` numbers."""

    id: str
    version: str
    weekend: frozenset[int] = WEEKEND
    closed: Mapping[date, str] = field(default_factory=dict)

    def why_closed(self, d: date) -> str | None:
        """Why the office is closed on ``d`` (``None``: it is open)."""
        if d in self.closed:
            return self.closed[d]
        if d.weekday() in self.weekend:
            return f"{d:%A}"
        return None

    def next_open(self, d: date) -> tuple[date, tuple[date, ...]]:
        """The first day on or after ``d`` the office is open, and the closed days skipped."""
        skipped: list[date] = []
        while self.why_closed(d) is not None:
            skipped.append(d)
            d += timedelta(days=1)
            if len(skipped) > MAX_WALK:
                raise ValueError(f"calendar {self.id} is closed for more than {MAX_WALK} days")
        return d, tuple(skipped)

    def evidence(self, used: Iterable[date] = ()) -> dict[str, Any]:
        """The calendar as the evidence records it: id, version, weekend, and the closed days
        the clock consulted (enough to decide the same again without the calendar)."""
        return {
            "id": self.id,
            "version": self.version,
            "weekend": sorted(self.weekend),
            "closed_days": {
                d.isoformat(): why
                for d in sorted(set(used))
                if (why := self.why_closed(d)) is not None
            },
        }

    def as_json(self) -> dict[str, Any]:
        """The whole calendar as a delivery keeps it (see :meth:`from_json`)."""
        return {
            **self.evidence(),
            "closed_days": {d.isoformat(): why for d, why in sorted(self.closed.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Calendar:
        """The calendar of :meth:`as_json` or :meth:`evidence` (a recompute from a proof bundle
        rebuilds the clock's calendar from the closed days the evidence lists)."""
        return cls(
            id=str(data["id"]),
            version=str(data["version"]),
            weekend=frozenset(int(n) for n in data.get("weekend", sorted(WEEKEND))),
            closed={date.fromisoformat(k): str(v) for k, v in data.get("closed_days", {}).items()},
        )


@lru_cache(maxsize=64)
def _public_holidays(
    country: str, subdivision: str | None, first_year: int, last_year: int
) -> dict[date, str]:
    """The public holidays of these years (computed once per process: dispatch reads them)."""
    import holidays

    found = holidays.country_holidays(
        country, subdiv=subdivision, years=range(first_year, last_year + 1)
    )
    return dict(found.items())


def office_calendar(
    *,
    office_code: str,
    country: str,
    subdivision: str | None,
    extra_closed: Sequence[date],
    around: date,
) -> Calendar:
    """The calendar of an office in ``country`` (ISO 3166-1 alpha-2) and ``subdivision`` with
    its ``extra_closed`` days, holding the closed days from a little before ``around`` (the day
    of consignment) to a year after. ``ValueError`` if the library knows no such country or
    subdivision."""
    import holidays

    first, last = around - KEEP_BEFORE, around + KEEP_AFTER
    public = _public_holidays(country, subdivision, first.year, last.year)
    closed: dict[date, str] = {d: name for d, name in public.items() if first <= d <= last}
    for d in extra_closed:
        if first <= d <= last:
            closed[d] = "closed by the office"
    region = country + (f"-{subdivision}" if subdivision else "")
    own = ",".join(sorted(d.isoformat() for d in extra_closed))
    digest = hashlib.sha256(own.encode()).hexdigest()[:8]
    return Calendar(
        id=f"{office_code}-{region}",
        version=f"holidays-{holidays.__version__}+{digest}",
        closed=dict(sorted(closed.items())),
    )


@dataclass(frozen=True)
class OutagePeriod:
    """A certified outage: from ``starts_at`` to ``ends_at`` (aware datetimes), certificate
    ``certificate_sha256``, ``scope`` ``"service"`` or an office code."""

    id: str
    starts_at: datetime
    ends_at: datetime
    certificate_sha256: str
    scope: str = "service"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from": rfc3339(self.starts_at),
            "to": rfc3339(self.ends_at),
            "certificate_sha256": self.certificate_sha256,
            "scope": self.scope,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OutagePeriod:
        return cls(
            id=str(data["id"]),
            starts_at=datetime.fromisoformat(str(data["from"])),
            ends_at=datetime.fromisoformat(str(data["to"])),
            certificate_sha256=str(data["certificate_sha256"]),
            scope=str(data.get("scope", "service")),
        )


def _day(d: date) -> str:
    return f"{d.day} {d:%b} {d.year}"


@dataclass(frozen=True)
class Shift:
    """What outages and closed days did to a date the rule decided: ``final`` (``original``
    when nothing applied), the clauses the sentence adds, and the reasoning for the evidence."""

    original: date
    final: date
    clauses: tuple[str, ...] = ()
    reasoning: Mapping[str, Any] = field(default_factory=dict)

    @property
    def clause(self) -> str:
        return "".join(f", {c}" for c in self.clauses)


def shift(
    target: date,
    *,
    since: date,
    moves: bool,
    outages_extend: bool,
    calendar: Calendar | None,
    outages: Sequence[OutagePeriod],
    zone: tzinfo,
) -> Shift:
    """``target`` (the date a rule decided, for a period that began on ``since``) moved to the
    office's next working day when the rule ``moves`` dates off closed days, then past the
    outages that touch the period up to it, when the rule lets them extend it: to the first
    working day after the outage ended (EPC Rule 134 style)."""
    final = target
    clauses: list[str] = []
    consulted: list[date] = []
    applied: list[dict[str, Any]] = []
    skipped_days: tuple[date, ...] = ()
    if moves and calendar is not None:
        moved, skipped_days = calendar.next_open(final)
        consulted += [*skipped_days, moved]
        if moved != final:
            clauses.append(
                f"moved from {weekday_day(final)} to {weekday_day(moved)} because the office "
                "was closed"
            )
            final = moved
    if outages_extend:
        for outage in sorted(outages, key=lambda o: (o.starts_at, o.id)):
            begins = outage.starts_at.astimezone(zone).date()
            ends = outage.ends_at.astimezone(zone).date()
            if begins > final or ends < since:
                continue  # does not touch the period
            after = ends + timedelta(days=1)
            if calendar is not None:  # the first working day after it
                after, skipped = calendar.next_open(after)
                consulted += [*skipped, after]
            extended = max(final, after)
            applied.append(
                {
                    **outage.as_json(),
                    "extended_to": extended.isoformat() if extended > final else None,
                }
            )
            if extended > final:
                when = (
                    f"on {_day(begins)}"
                    if begins == ends
                    else f"from {_day(begins)} to {_day(ends)}"
                )
                clauses.append(
                    f"extended to {weekday_day(extended)} because the service was out of order "
                    f"{when} (outage {outage.id})"
                )
                final = extended
    reasoning: dict[str, Any] = {}
    if calendar is not None:
        reasoning["calendar"] = calendar.evidence(consulted)
        reasoning["days_skipped"] = [d.isoformat() for d in skipped_days]
    if outages_extend and outages:
        reasoning["outages"] = applied
    if final != target:
        reasoning["moved_from"] = target.isoformat()
    return Shift(target, final, tuple(clauses), reasoning)
