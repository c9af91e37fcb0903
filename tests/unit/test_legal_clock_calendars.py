"""The legal clock with office calendars and certified outages: for the shipped rules, real
dates (a holiday, a weekend, the year boundary, a time-zone edge, an outage, paper, a pickup on
the last day), the date that counts and the one sentence; and the evidence alone decides the
same again."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from mailbox.deliveries.calendars import Calendar, OutagePeriod, office_calendar
from mailbox.deliveries.legal_clock import RULES, Events, inputs_from_evidence, legal_date

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LATER = datetime(2027, 3, 1, tzinfo=UTC)


def berlin(y: int, m: int, d: int, hh: int = 10, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=BERLIN)


BAVARIA = office_calendar(
    office_code="EP", country="DE", subdivision="BY", extra_closed=[], around=date(2026, 12, 1)
)
NEW_YORK_STATE = office_calendar(
    office_code="US", country="US", subdivision="NY", extra_closed=[], around=date(2026, 12, 1)
)
ITALY = office_calendar(
    office_code="IT", country="IT", subdivision=None, extra_closed=[], around=date(2026, 12, 1)
)
LATE_NIGHT = OutagePeriod(  # 5 Dec 22:00 to 6 Dec 03:00 in Berlin
    "out_night", berlin(2026, 12, 5, 22), berlin(2026, 12, 6, 3), "ab" * 32
)
EARLY = OutagePeriod("out_early", berlin(2026, 11, 27, 9), berlin(2026, 11, 27, 11), "cd" * 32)
MORNING = OutagePeriod("out_morning", berlin(2026, 12, 3, 8), berlin(2026, 12, 3, 12), "ef" * 32)

CASES = [
    # name, rule id, events, zone, calendar, outages, delivered on, counts from, sentence
    (
        "a weekend",
        "de-mail-v1",
        Events(available_at=berlin(2026, 12, 2)),
        BERLIN,
        BAVARIA,
        (),
        date(2026, 12, 7),
        date(2026, 12, 7),
        "Deemed delivered on 7 Dec 2026 (Europe/Berlin): 3 days after it was made available "
        "on 2 Dec 2026, moved from Sat 5 Dec 2026 to Mon 7 Dec 2026 because the office was "
        "closed; it was not opened before.",
    ),
    (
        "a holiday (and the weekend after it)",
        "de-mail-v1",
        Events(available_at=berlin(2026, 12, 22)),
        BERLIN,
        BAVARIA,
        (),
        date(2026, 12, 28),
        date(2026, 12, 28),
        "Deemed delivered on 28 Dec 2026 (Europe/Berlin): 3 days after it was made available "
        "on 22 Dec 2026, moved from Fri 25 Dec 2026 to Mon 28 Dec 2026 because the office was "
        "closed; it was not opened before.",
    ),
    (
        "the year boundary",
        "de-mail-v1",
        Events(available_at=berlin(2026, 12, 29)),
        BERLIN,
        BAVARIA,
        (),
        date(2027, 1, 4),
        date(2027, 1, 4),
        "Deemed delivered on 4 Jan 2027 (Europe/Berlin): 3 days after it was made available "
        "on 29 Dec 2026, moved from Fri 1 Jan 2027 to Mon 4 Jan 2027 because the office was "
        "closed; it was not opened before.",
    ),
    (
        "a pickup on the moved last day",
        "de-mail-v1",
        Events(available_at=berlin(2026, 12, 2), picked_up_at=berlin(2026, 12, 7, 10)),
        BERLIN,
        BAVARIA,
        (),
        date(2026, 12, 7),
        date(2026, 12, 7),
        "Delivered on 7 Dec 2026 (Europe/Berlin), when it was opened.",
    ),
    (
        "a pickup at 23:59:59 office time on the last day, already the next day in UTC",
        "de-mail-v1",
        Events(
            available_at=datetime(2026, 12, 2, 14, tzinfo=NEW_YORK),
            picked_up_at=datetime(2026, 12, 7, 23, 59, 59, tzinfo=NEW_YORK),  # 8 Dec in UTC
        ),
        NEW_YORK,
        NEW_YORK_STATE,
        (),
        date(2026, 12, 7),
        date(2026, 12, 7),
        "Delivered on 7 Dec 2026 (America/New_York), when it was opened.",
    ),
    (
        "a pickup the day after the moved last day is too late",
        "de-mail-v1",
        Events(available_at=berlin(2026, 12, 2), picked_up_at=berlin(2026, 12, 8, 0, 0, 1)),
        BERLIN,
        BAVARIA,
        (),
        date(2026, 12, 7),
        date(2026, 12, 7),
        "Deemed delivered on 7 Dec 2026 (Europe/Berlin): 3 days after it was made available "
        "on 2 Dec 2026, moved from Sat 5 Dec 2026 to Mon 7 Dec 2026 because the office was "
        "closed; it was not opened before.",
    ),
    (
        "calendar days: SEND does not move off a Sunday",
        "send-it-v1",
        Events(available_at=berlin(2026, 11, 29)),
        BERLIN,
        ITALY,
        (),
        date(2026, 12, 6),
        date(2026, 12, 6),
        "Deemed delivered on 6 Dec 2026 (Europe/Berlin): 7 days after it was made available "
        "on 29 Nov 2026; it was not opened before.",
    ),
    (
        "an outage on the last day extends it to the next working day",
        "pickup-or-n-days-v1",
        Events(available_at=berlin(2026, 11, 26)),
        BERLIN,
        BAVARIA,
        (EARLY, LATE_NIGHT),
        date(2026, 12, 7),
        date(2026, 12, 7),
        "Deemed delivered on 7 Dec 2026 (Europe/Berlin): 10 days after it was made available "
        "on 26 Nov 2026, extended to Mon 7 Dec 2026 because the service was out of order from "
        "5 Dec 2026 to 6 Dec 2026 (outage out_night); it was not opened before.",
    ),
    (
        "an outage on the day of availability (ePCT): time limits count from the next working day",
        "epct-availability-v1",
        Events(available_at=berlin(2026, 12, 3, 9)),
        BERLIN,
        BAVARIA,
        (MORNING,),
        date(2026, 12, 3),
        date(2026, 12, 4),
        "Delivered on 3 Dec 2026 (Europe/Berlin), the day it was made available; time limits "
        "count from 4 Dec 2026, extended to Fri 4 Dec 2026 because the service was out of "
        "order on 3 Dec 2026 (outage out_morning).",
    ),
    (
        "EPO: a document dated on a Saturday; time limits count from the Monday",
        "epo-2023-v1",
        Events(available_at=berlin(2026, 12, 7, 9), document_date=date(2026, 12, 5)),
        BERLIN,
        BAVARIA,
        (),
        date(2026, 12, 5),
        date(2026, 12, 7),
        "Deemed delivered on 5 Dec 2026 (Europe/Berlin), the date on the document; it was "
        "made available on 7 Dec 2026, within 7 days; time limits count from 7 Dec 2026, "
        "moved from Sat 5 Dec 2026 to Mon 7 Dec 2026 because the office was closed.",
    ),
    (
        "paper in Germany: the fourth day after posting, off the Christmas holidays",
        "paper-posting-de-v1",
        Events(paper_posted_at=berlin(2026, 12, 22, 16)),
        BERLIN,
        BAVARIA,
        (LATE_NIGHT,),
        date(2026, 12, 28),
        date(2026, 12, 28),
        "Deemed delivered on 28 Dec 2026 (Europe/Berlin): 4 days after the letter was posted "
        "on 22 Dec 2026, moved from Sat 26 Dec 2026 to Mon 28 Dec 2026 because the office was "
        "closed.",
    ),
    (
        "paper under SEND: calendar days, and an outage of ours does not touch the post",
        "paper-posting-v1",
        Events(paper_posted_at=berlin(2026, 11, 26, 16)),
        BERLIN,
        ITALY,
        (LATE_NIGHT,),
        date(2026, 12, 6),
        date(2026, 12, 6),
        "Deemed delivered on 6 Dec 2026 (Europe/Berlin): 10 days after the letter was posted "
        "on 26 Nov 2026.",
    ),
]


@pytest.mark.parametrize(
    ("rule_id", "events", "zone", "calendar", "outages", "delivered", "counts", "sentence"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_legal_date_with_calendar_and_outages(
    rule_id: str,
    events: Events,
    zone: ZoneInfo,
    calendar: Calendar,
    outages: tuple[OutagePeriod, ...],
    delivered: date,
    counts: date,
    sentence: str,
) -> None:
    legal = legal_date(
        events, RULES[rule_id], at=LATER, zone=zone, calendar=calendar, outages=outages
    )

    assert (legal.delivered_on, legal.counts_from) == (delivered, counts)
    assert legal.sentence == sentence
    recorded = legal.evidence()
    assert recorded["calendar"]["id"] == calendar.id
    assert recorded["calendar"]["version"] == calendar.version


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_the_evidence_alone_decides_the_same_again(case: tuple) -> None:
    _, rule_id, events, zone, calendar, outages, *_ = case
    recorded = legal_date(
        events, RULES[rule_id], at=LATER, zone=zone, calendar=calendar, outages=outages
    ).evidence()

    # As a proof bundle carries it, read back by the one reader the recompute uses.
    again = inputs_from_evidence(json.loads(json.dumps(recorded))).compute()

    assert again.evidence() == recorded


def test_the_reasoning_names_days_skipped_and_outages_applied() -> None:
    moved = legal_date(
        Events(available_at=berlin(2026, 12, 22)),
        RULES["de-mail-v1"],
        at=LATER,
        zone=BERLIN,
        calendar=BAVARIA,
    ).evidence()
    extended = legal_date(
        Events(available_at=berlin(2026, 11, 26)),
        RULES["pickup-or-n-days-v1"],
        at=LATER,
        zone=BERLIN,
        calendar=BAVARIA,
        outages=(EARLY, LATE_NIGHT),
    ).evidence()

    assert moved["days_skipped"] == ["2026-12-25", "2026-12-26", "2026-12-27"]
    assert moved["calendar"]["closed_days"] == {
        "2026-12-25": "Christmas Day",
        "2026-12-26": "Second Day of Christmas",
        "2026-12-27": "Sunday",
    }
    assert moved["moved_from"] == "2026-12-25"
    assert [(o["id"], o["extended_to"]) for o in extended["outages"]] == [
        ("out_early", None),  # touched the period, but ended long before its last day
        ("out_night", "2026-12-07"),
    ]


def test_without_a_calendar_nothing_moves() -> None:
    legal = legal_date(
        Events(available_at=berlin(2026, 12, 2)), RULES["de-mail-v1"], at=LATER, zone=BERLIN
    )

    assert legal.delivered_on == date(2026, 12, 5)
    assert "calendar" not in legal.evidence()


def test_extra_closed_days_change_the_calendar_version() -> None:
    closed = office_calendar(
        office_code="EP",
        country="DE",
        subdivision="BY",
        extra_closed=[date(2026, 12, 24)],
        around=date(2026, 12, 1),
    )

    assert closed.id == BAVARIA.id == "EP-DE-BY"
    assert closed.version != BAVARIA.version
    assert closed.version.startswith("holidays-0.109+")
    assert closed.why_closed(date(2026, 12, 24)) == "closed by the office"
