"""The one clock of the service: every legally meaningful time comes from :func:`now`.

Tests move time with :func:`set_offset` (or freeze it with :func:`freeze`) instead of sleeping.
A demo or test install may travel in time (``python -m mailbox clock advance 7d``): the offset
travelled is kept in a file (:func:`travelled`, :func:`travel`) that every process of the
install follows (:func:`follow`), so that the running service and the command line agree.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

__all__ = [
    "follow",
    "freeze",
    "now",
    "reset",
    "set_offset",
    "to_utc",
    "travel",
    "travelled",
]

_offset = timedelta(0)
_frozen: datetime | None = None
# The travel file followed (None: none) and what was read from it, by its stat signature.
_followed: Path | None = None
_followed_stamp: tuple[int, int, int] | None = None
_travelled = timedelta(0)


def now() -> datetime:
    """Return the current time, timezone-aware in UTC, with microseconds."""
    if _frozen is not None:
        return _frozen
    if _followed is not None:
        _refresh()
    return datetime.now(UTC) + _offset + _travelled


def follow(path: Path | None) -> None:
    """Add the offset travelled in ``path`` (see :func:`travel`) to this process's clock, read
    again whenever the file changes; ``None`` stops following."""
    global _followed, _followed_stamp, _travelled
    _followed, _followed_stamp, _travelled = path, None, timedelta(0)
    if path is not None:
        _refresh()


def travelled(path: Path) -> timedelta:
    """The offset travelled so far in ``path`` (none if it does not exist). ``ValueError`` if
    it cannot be read as one."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return timedelta(0)
    try:
        seconds = json.loads(raw)["offset_seconds"]
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise ValueError(seconds)
        return timedelta(seconds=seconds)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} holds no travelled offset ({exc})") from None


def travel(path: Path, by: timedelta) -> timedelta:
    """Move the clock of every process following ``path`` forward by ``by`` (never back: the
    evidence log's times only grow); return the offset travelled in total. The file is
    replaced atomically, so a process reading it sees the old or the new offset."""
    if by <= timedelta(0):
        raise ValueError("the clock only moves forward")
    total = travelled(path) + by
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    scratch.write_text(
        json.dumps(
            {
                "offset_seconds": total.total_seconds(),
                "advanced_at": datetime.now(UTC).isoformat(),
                "note": "Time travel of a demo or test install (python -m mailbox clock advance)",
            }
        ),
        encoding="utf-8",
    )
    os.replace(scratch, path)
    return total


def _refresh() -> None:
    global _followed_stamp, _travelled
    assert _followed is not None
    try:
        info = os.stat(_followed)
    except FileNotFoundError:
        _followed_stamp, _travelled = None, timedelta(0)
        return
    stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
    if stamp != _followed_stamp:
        try:
            _travelled = travelled(_followed)
        except (ValueError, OSError):
            return  # keep the offset last read; `clock advance` reports the bad file
        _followed_stamp = stamp


def set_offset(offset: timedelta) -> None:
    """Shift the clock by ``offset`` from the real time (tests and demos only)."""
    global _offset
    _offset = offset


def freeze(at: datetime | None) -> None:
    """Stop the clock at ``at`` (aware), or let it run again with ``None``."""
    global _frozen
    _frozen = to_utc(at) if at is not None else None


def reset() -> None:
    """Return to the real time (and stop following a travel file)."""
    freeze(None)
    set_offset(timedelta(0))
    follow(None)


def to_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive values are taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
