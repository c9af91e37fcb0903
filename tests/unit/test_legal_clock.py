"""The legal clock's one function: for each kind of rule, real events, the legal date, the day
time limits count from, and the one sentence every surface shows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from mailbox.deliveries.legal_clock import Events, Rule, legal_date

PICKUP_OR_10 = Rule("pickup-or-n-days-v1", 1, "pickup-or-n-days", 10)
DEMAIL_3 = Rule("de-mail-v1", 1, "pickup-or-n-days", 3)
AVAILABILITY = Rule("epct-availability-v1", 1, "availability")
EPO_2023 = Rule("epo-2023-v1", 1, "document-date", 7)
PAPER_10 = Rule("paper-posting-v1", 1, "paper-posting", 10)
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LAST_SECOND = datetime(2026, 11, 27, 23, 59, 59, tzinfo=NEW_YORK)  # 28 Nov, 04:59:59 UTC


def utc(y: int, m: int, d: int, hh: int = 9, mm: int = 14, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=UTC)


AVAILABLE = utc(2026, 11, 26)
LATER = utc(2027, 3, 1)  # long after everything

CASES = [
    # rule, events, at, zone, delivered on, counts from, settled, sentence
    (
        PICKUP_OR_10,
        Events(available_at=AVAILABLE, picked_up_at=utc(2026, 11, 27, 16)),
        LATER,
        UTC,
        date(2026, 11, 27),
        date(2026, 11, 27),
        True,
        "Delivered on 27 Nov 2026 (UTC), when it was opened.",
    ),
    (
        PICKUP_OR_10,
        Events(available_at=AVAILABLE),
        utc(2026, 11, 30),
        UTC,
        date(2026, 12, 6),
        date(2026, 12, 6),
        False,
        "Deemed delivered on 6 Dec 2026 (UTC) unless it is opened before: 10 days after it was "
        "made available on 26 Nov 2026.",
    ),
    (
        PICKUP_OR_10,
        Events(available_at=AVAILABLE, picked_up_at=utc(2026, 12, 20)),
        LATER,
        UTC,
        date(2026, 12, 6),
        date(2026, 12, 6),
        True,
        "Deemed delivered on 6 Dec 2026 (UTC): 10 days after it was made available on "
        "26 Nov 2026; it was not opened before.",
    ),
    (  # a pickup on the last day still counts
        PICKUP_OR_10,
        Events(available_at=AVAILABLE, picked_up_at=utc(2026, 12, 6, 8)),
        LATER,
        UTC,
        date(2026, 12, 6),
        date(2026, 12, 6),
        True,
        "Delivered on 6 Dec 2026 (UTC), when it was opened.",
    ),
    (  # De-Mail style, over the year boundary
        DEMAIL_3,
        Events(available_at=utc(2026, 12, 30)),
        LATER,
        UTC,
        date(2027, 1, 2),
        date(2027, 1, 2),
        True,
        "Deemed delivered on 2 Jan 2027 (UTC): 3 days after it was made available on "
        "30 Dec 2026; it was not opened before.",
    ),
    (
        AVAILABILITY,
        Events(available_at=AVAILABLE, picked_up_at=utc(2026, 12, 1)),
        LATER,
        UTC,
        date(2026, 11, 26),
        date(2026, 11, 26),
        True,
        "Delivered on 26 Nov 2026 (UTC), the day it was made available.",
    ),
    (
        EPO_2023,
        Events(available_at=AVAILABLE, document_date=date(2026, 11, 20)),
        LATER,
        UTC,
        date(2026, 11, 20),
        date(2026, 11, 20),
        True,
        "Deemed delivered on 20 Nov 2026 (UTC), the date on the document; it was made "
        "available on 26 Nov 2026, within 7 days.",
    ),
    (  # reached the mailbox 16 days after its date: time limits extended by 9 days
        EPO_2023,
        Events(available_at=AVAILABLE, document_date=date(2026, 11, 10)),
        LATER,
        UTC,
        date(2026, 11, 10),
        date(2026, 11, 19),
        True,
        "Deemed delivered on 10 Nov 2026 (UTC), the date on the document; it was made "
        "available on 26 Nov 2026, 16 days later, so time limits are extended by 9 days and "
        "count from 19 Nov 2026.",
    ),
    (
        EPO_2023,
        Events(available_at=AVAILABLE),
        LATER,
        UTC,
        date(2026, 11, 26),
        date(2026, 11, 26),
        True,
        "Delivered on 26 Nov 2026 (UTC), the day it was made available; the document bears "
        "no date.",
    ),
    (
        PAPER_10,
        Events(paper_posted_at=utc(2026, 11, 26, 15)),
        LATER,
        UTC,
        date(2026, 12, 6),
        date(2026, 12, 6),
        True,
        "Deemed delivered on 6 Dec 2026 (UTC): 10 days after the letter was posted on 26 Nov 2026.",
    ),
    (
        PAPER_10,
        Events(),
        LATER,
        UTC,
        None,
        None,
        False,
        "Not delivered yet: the letter has not been posted.",
    ),
    (  # 23:59:59 in Berlin on 27 Nov is 22:59:59 UTC: the office's day counts
        PICKUP_OR_10,
        Events(
            available_at=AVAILABLE, picked_up_at=datetime(2026, 11, 27, 23, 59, 59, tzinfo=BERLIN)
        ),
        LATER,
        BERLIN,
        date(2026, 11, 27),
        date(2026, 11, 27),
        True,
        "Delivered on 27 Nov 2026 (Europe/Berlin), when it was opened.",
    ),
    (  # 00:30 in Berlin on 28 Nov is still 27 Nov in UTC
        AVAILABILITY,
        Events(available_at=datetime(2026, 11, 28, 0, 30, tzinfo=BERLIN)),
        LATER,
        BERLIN,
        date(2026, 11, 28),
        date(2026, 11, 28),
        True,
        "Delivered on 28 Nov 2026 (Europe/Berlin), the day it was made available.",
    ),
]


@pytest.mark.parametrize(
    ("rule", "events", "at", "zone", "delivered_on", "counts_from", "settled", "sentence"), CASES
)
def test_legal_date_under_each_rule(
    rule: Rule,
    events: Events,
    at: datetime,
    zone,
    delivered_on: date | None,
    counts_from: date | None,
    settled: bool,
    sentence: str,
) -> None:
    legal = legal_date(events, rule, at=at, zone=zone)

    assert legal.delivered_on == delivered_on
    assert legal.counts_from == counts_from
    assert legal.settled is settled
    assert legal.sentence == sentence
    recorded = legal.evidence()
    assert recorded["rule"] == {
        "id": rule.id,
        "version": rule.version,
        "kind": rule.kind,
        "days": rule.days,
        "closed_day_moves": rule.closed_day_moves,
        "outage_extends": rule.outage_extends,
    }
    assert recorded["sentence"] == sentence
    assert recorded["delivered_on"] == (delivered_on.isoformat() if delivered_on else None)


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        legal_date(Events(available_at=datetime(2026, 11, 26)), AVAILABILITY, at=LATER)
