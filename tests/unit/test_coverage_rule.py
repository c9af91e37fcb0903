"""The one rule of coverage: an item is on time up to the end of its due day in the hub's time
zone, whatever the length of that day; a list of expected items is read whole or refused
naming each bad line; a report's period is checked field by field."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from mailbox.coverage.expected import read_expected_list
from mailbox.coverage.report import period_of
from mailbox.coverage.rule import ItemClass, classify, due_end
from mailbox.errors import InvalidRequest

ZURICH = "Europe/Zurich"
TODAY = date(2026, 12, 2)


@pytest.mark.parametrize(
    ("due", "end"),
    [
        (date(2026, 3, 29), datetime(2026, 3, 29, 22, 0, tzinfo=UTC)),  # a 23-hour day
        (date(2026, 10, 25), datetime(2026, 10, 25, 23, 0, tzinfo=UTC)),  # a 25-hour day
        (date(2026, 12, 15), datetime(2026, 12, 15, 23, 0, tzinfo=UTC)),
    ],
)
def test_the_due_day_ends_at_midnight_in_the_hubs_zone(due: date, end: datetime) -> None:
    assert due_end(due, ZURICH) == end
    just_before = end - timedelta(microseconds=1)
    assert classify(due, just_before, zone=ZURICH, at=end + timedelta(days=9)) is ItemClass.ON_TIME
    assert classify(due, end, zone=ZURICH, at=end + timedelta(days=9)) is ItemClass.LATE
    assert classify(due, None, zone=ZURICH, at=just_before) is ItemClass.PENDING
    assert classify(due, None, zone=ZURICH, at=end) is ItemClass.MISSING


def test_a_list_in_json_lines_is_read_and_its_bad_lines_each_named() -> None:
    good = (
        b'\xef\xbb\xbf{"sender": "ep", "kind": "search-copy", '
        b'"international_application_number": "PCT/EP2026/000001", "due_on": "2026-12-01"}\n\n'
    )
    [line] = read_expected_list(good, "jsonl", today=TODAY)
    assert (line.line, line.sender, line.due_on) == (1, "EP", date(2026, 12, 1))

    bad = b"\n".join(
        [
            b"[1, 2]",
            b'{"sender": "EP", "kind": "search-copy", "due_on": "2026-12-01"}',
            b'{"sender": "EP", "kind": "search-copy", "international_application_number": '
            b'"PCT/EP1970/000001", "due_on": "2026-12-01", "note": "x"}',
            b'{"sender": "EP", "kind": "search-copy", "international_application_number": '
            b'"PCT/EP1970/000001", "due_on": 20261201}',
            b'{"sender": "EP", "kind": "search-copy", "international_application_number": '
            b'"PCT/EP1970/000001", "due_on": "2026-12-01"}',
        ]
    )
    with pytest.raises(InvalidRequest) as refused:
        read_expected_list(bad, "jsonl", today=TODAY)
    assert [(e.field, e.message) for e in refused.value.errors] == [
        ("line 1", "not a JSON object"),
        ("line 2", "missing column(s): international_application_number"),
        ("line 3: note", "unknown column"),
        ("line 4", "due_on: must be strings"),
        ("line 5: international_application_number", "1970 is not a filing year"),
    ]


def test_an_empty_list_or_one_without_its_header_is_refused() -> None:
    for body in (b"", b"sender,kind\r\n"):
        with pytest.raises(InvalidRequest) as refused:
            read_expected_list(body, "csv", today=TODAY)
        assert refused.value.errors


def test_a_period_is_the_current_month_by_default_and_checked_field_by_field() -> None:
    assert period_of(None, "", today=date(2028, 2, 10)) == (date(2028, 2, 1), date(2028, 2, 29))
    assert period_of("2026-12-05", None, today=TODAY) == (date(2026, 12, 5), date(2026, 12, 31))
    with pytest.raises(InvalidRequest) as refused:
        period_of("2026-02-30", "12/31/2026", today=TODAY)
    assert [e.field for e in refused.value.errors] == ["from", "to"]
