"""The one clock of the service: every legally meaningful time comes from :func:`now`.

Tests move time with :func:`set_offset` (or freeze it with :func:`freeze`) instead of sleeping.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["freeze", "now", "reset", "set_offset", "to_utc"]

_offset = timedelta(0)
_frozen: datetime | None = None


def now() -> datetime:
    """Return the current time, timezone-aware in UTC, with microseconds."""
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC) + _offset


def set_offset(offset: timedelta) -> None:
    """Shift the clock by ``offset`` from the real time (tests and demos only)."""
    global _offset
    _offset = offset


def freeze(at: datetime | None) -> None:
    """Stop the clock at ``at`` (aware), or let it run again with ``None``."""
    global _frozen
    _frozen = to_utc(at) if at is not None else None


def reset() -> None:
    """Return to the real time."""
    freeze(None)
    set_offset(timedelta(0))


def to_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive values are taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
