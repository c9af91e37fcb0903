"""What office calendars and outages cost the legal clock: building an office's calendar at
dispatch (the first time in a process, and cached), and one ``explain`` of a stored delivery
(the inbox and every surface call it once per delivery) without a calendar, with the calendar
it keeps (a year of closed days, parsed from its JSON) and with a calendar and two outages.

Run from the repository root:  python bench/legal_clock.py [--repeat 2000]

Prints one JSON object of median microseconds per call.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # our `mailbox`, not the standard-library module
if "mailbox" in sys.modules and not hasattr(sys.modules["mailbox"], "__path__"):
    del sys.modules["mailbox"]


def median_us(work: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1e6, 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()

    from mailbox.deliveries.calendars import OutagePeriod, office_calendar
    from mailbox.deliveries.legal_clock import explain
    from mailbox.models import Delivery

    def build() -> object:
        return office_calendar(
            office_code="EP",
            country="DE",
            subdivision="BY",
            extra_closed=[],
            around=date(2026, 12, 1),
        )

    start = time.perf_counter()
    import holidays  # noqa: F401  (the library's import, paid once per process)

    import_us = round((time.perf_counter() - start) * 1e6, 2)
    start = time.perf_counter()
    calendar = build()
    first_us = round((time.perf_counter() - start) * 1e6, 2)
    at = datetime(2026, 12, 2, 9, tzinfo=UTC)
    outages = [
        OutagePeriod(
            "out_a",
            datetime(2026, 12, 4, 8, tzinfo=UTC),
            datetime(2026, 12, 4, 9, tzinfo=UTC),
            "a" * 64,
        ),
        OutagePeriod(
            "out_b",
            datetime(2026, 12, 7, 8, tzinfo=UTC),
            datetime(2026, 12, 7, 9, tzinfo=UTC),
            "b" * 64,
        ),
    ]

    def delivery(**clock: object) -> Delivery:
        return Delivery(
            id="dlv_x",
            document_id="doc_x",
            account_id="acc_x",
            office_id="off_x",
            dossier_number="EP1",
            submitted_at=at,
            available_at=at,
            status="available",
            clock_rule="de-mail-v1",
            clock_days=3,
            clock_zone="Europe/Berlin",
            **clock,
        )

    plain = delivery()
    kept = delivery(clock_calendar=calendar.as_json())
    both = delivery(clock_calendar=calendar.as_json(), clock_outages=[o.as_json() for o in outages])
    later = datetime(2027, 1, 1, tzinfo=UTC)
    print(
        json.dumps(
            {
                "holidays_import_us": import_us,
                "calendar_build_first_us": first_us,
                "calendar_build_cached_us": median_us(build, args.repeat),
                "calendar_closed_days_kept": len(calendar.closed),
                "explain_without_calendar_us": median_us(
                    lambda: explain(plain, at=later), args.repeat
                ),
                "explain_with_calendar_us": median_us(lambda: explain(kept, at=later), args.repeat),
                "explain_with_calendar_and_2_outages_us": median_us(
                    lambda: explain(both, at=later), args.repeat
                ),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
