"""Times as text: RFC 3339 for machines, one wording for people in a chosen time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from mailbox.timefmt import human, parse_rfc3339, rfc3339, rfc3339_or_none

AT = datetime(2026, 11, 26, 9, 14, 3, 123456, tzinfo=UTC)


def test_rfc3339_is_utc_with_microseconds_and_z() -> None:
    assert rfc3339(AT) == "2026-11-26T09:14:03.123456Z"


def test_rfc3339_of_a_whole_second_keeps_the_microseconds() -> None:
    assert rfc3339(AT.replace(microsecond=0)) == "2026-11-26T09:14:03.000000Z"


def test_rfc3339_of_another_zone_is_the_same_instant_in_utc() -> None:
    tokyo = AT.astimezone(timezone(timedelta(hours=9)))
    berlin = AT.astimezone(ZoneInfo("Europe/Berlin"))

    assert tokyo.hour == 18 and berlin.hour == 10
    assert rfc3339(tokyo) == rfc3339(berlin) == "2026-11-26T09:14:03.123456Z"


def test_rfc3339_or_none_passes_none() -> None:
    assert rfc3339_or_none(None) is None
    assert rfc3339_or_none(AT) == "2026-11-26T09:14:03.123456Z"


def test_parse_rfc3339_reads_back_what_rfc3339_writes() -> None:
    parsed = parse_rfc3339(rfc3339(AT))

    assert parsed == AT and parsed.tzinfo == UTC


def test_human_is_day_month_year_and_minutes_in_utc_by_default() -> None:
    assert human(AT) == "26 November 2026, 09:14 UTC"


def test_human_passes_none() -> None:
    assert human(None) is None


def test_human_names_the_zone_and_follows_its_summer_time() -> None:
    # Berlin moved to summer time (CEST, UTC+2) on 29 March 2026 at 01:00 UTC.
    before = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    after = before + timedelta(hours=1)

    assert human(before, "Europe/Berlin") == "29 March 2026, 01:30 CET"
    assert human(after, ZoneInfo("Europe/Berlin")) == "29 March 2026, 03:30 CEST"


def test_human_moves_to_the_zones_date() -> None:
    late = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)

    assert human(late, "Europe/Berlin") == "01 January 2027, 00:30 CET"


def test_human_writes_the_month_in_the_readers_language() -> None:
    assert human(AT, language="fr") == "26 novembre 2026, 09:14 UTC"
    assert human(AT, language="fr-CH") == "26 novembre 2026, 09:14 UTC"
    assert human(AT, language="xx") == "26 November 2026, 09:14 UTC"


@pytest.mark.parametrize("write", [rfc3339, rfc3339_or_none, human])
def test_naive_datetimes_are_refused(write) -> None:
    with pytest.raises(ValueError, match="naive"):
        write(datetime(2026, 11, 26, 9, 14))


def test_parse_rfc3339_refuses_a_time_without_a_zone() -> None:
    with pytest.raises(ValueError, match="naive"):
        parse_rfc3339("2026-11-26T09:14:03")
