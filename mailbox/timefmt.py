"""Times as text: one form for machines, one wording for people.

Machines (evidence records, the API, webhook bodies, proof bundles) read RFC 3339 in UTC with
microseconds and a ``Z``: ``2026-11-26T09:14:03.123456Z``. Evidence hashes cover that text, so
it never changes. People (pages, emails, receipts) read ``26 November 2026, 09:14 UTC``: in the
time zone the caller gives (UTC unless said otherwise), named after that zone, with the month in
the reader's language. Naive datetimes are refused: a time without a zone is a bug, not UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import overload
from zoneinfo import ZoneInfo

__all__ = ["human", "parse_rfc3339", "rfc3339", "rfc3339_or_none"]

# Month names by language (primary subtag); other languages read English, as their emails do
# when a template is missing.
_MONTHS: dict[str, tuple[str, ...]] = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "fr": (
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ),
}


def rfc3339(at: datetime) -> str:
    """``2026-11-26T09:14:03.123456Z``: ``at`` in UTC, always with microseconds."""
    return _aware(at).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rfc3339_or_none(at: datetime | None) -> str | None:
    """:func:`rfc3339` of ``at``, or ``None`` for a time that is not known (yet)."""
    return rfc3339(at) if at is not None else None


def parse_rfc3339(text: str) -> datetime:
    """The aware UTC datetime that ``text`` (as :func:`rfc3339` writes it) stands for."""
    return _aware(datetime.fromisoformat(text)).astimezone(UTC)


@overload
def human(at: datetime, zone: tzinfo | str = ..., *, language: str = ...) -> str: ...
@overload
def human(at: None, zone: tzinfo | str = ..., *, language: str = ...) -> None: ...
def human(at: datetime | None, zone: tzinfo | str = UTC, *, language: str = "en") -> str | None:
    """``26 November 2026, 09:14 UTC``: ``at`` as people read it, shown in ``zone`` (a
    ``ZoneInfo`` or an IANA name such as ``"Europe/Berlin"``) and named after it at that
    moment (``CET`` in winter, ``CEST`` in summer), the month in ``language`` (``"fr"``,
    ``"fr-CH"``...); ``None`` stays ``None``."""
    if at is None:
        return None
    local = _aware(at).astimezone(ZoneInfo(zone) if isinstance(zone, str) else zone)
    primary = language.replace("_", "-").split("-", 1)[0].lower()
    month = _MONTHS.get(primary, _MONTHS["en"])[local.month - 1]
    return f"{local.day:02d} {month} {local.year}, {local:%H:%M} {local.tzname()}"


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at.isoformat()}: say which time zone it is in")
    return at
