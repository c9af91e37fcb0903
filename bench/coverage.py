"""A hub's coverage report at size: how long the report of a month and of a year takes, and
which indexes its three queries read.

Run from the repository root:  python bench/coverage.py [--items 50000] [--other 200000]
    [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/DBNAME]  (default: SQLite)

The database (migrated, empty) gets one hub with a mailbox, 100 sending offices, ``items``
expected items due over a year, a delivery into the hub's mailbox for 80 % of them (some after
their due day), ``items`` / 5 deliveries into the mailbox that nobody expected, and ``other``
deliveries into other accounts (what the hub's mailbox shares its tables with). It prints one
JSON object: the best and median time of :func:`mailbox.coverage.report.coverage` for a month
and for the whole year, the items and unexpected deliveries each found, and how many
statements one report runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # our `mailbox`, not the standard-library module
if "mailbox" in sys.modules and not hasattr(sys.modules["mailbox"], "__path__"):
    del sys.modules["mailbox"]

SENDERS = 100
CHUNK = 5000
START = date(2026, 1, 1)


def _document(n: int, office_id: str, kind: str, number: str, at: datetime) -> dict[str, Any]:
    return {
        "id": f"doc_{n:010d}",
        "office_id": office_id,
        "kind_code": kind,
        "dossier_number": number,
        "title": "Notice",
        "filename": "notice.json",
        "original_sha256": f"{n:064d}",
        "sealed_sha256": f"{n:064d}",
        "original_size": 100,
        "sealed_size": 100,
        "media_type": "application/json",
        "created_at": at,
    }


def _delivery(n: int, account_id: str, office_id: str, number: str, at: datetime) -> dict:
    return {
        "id": f"dlv_{n:010d}",
        "document_id": f"doc_{n:010d}",
        "account_id": account_id,
        "office_id": office_id,
        "dossier_number": number,
        "status": "available",
        "submitted_at": at,
        "available_at": at,
        "reminders_sent": 0,
    }


async def load(database: Any, items: int, other: int) -> Any:
    from sqlalchemy import insert

    from mailbox.models import Account, Delivery, Document, ExpectedItem, Office

    async with database.write() as session:
        hub = Office(code="IB", name="International Bureau", time_zone="Europe/Zurich")
        senders = [Office(code=f"S{i:03d}", name=f"Office {i}") for i in range(SENDERS)]
        session.add_all([hub, *senders])
        await session.flush()
        mailbox = Account(name="IB mailbox", postal_address="Geneva", office_id=hub.id)
        applicant = Account(name="Applicant", postal_address="Somewhere")
        session.add_all([mailbox, applicant])
        await session.flush()
        ids = (hub.id, mailbox.id, applicant.id, [s.id for s in senders])
    hub_id, mailbox_id, applicant_id, sender_ids = ids
    expected, documents, deliveries = [], [], []
    n = 0
    for i in range(items):
        sender = i % SENDERS
        kind = "national-phase-entry" if i % 3 else "search-copy"
        number = f"PCT/EP2026/{i:06d}"
        due = START + timedelta(days=i % 365)
        expected.append(
            {
                "id": f"exp_{i:010d}",
                "hub_office_id": hub_id,
                "sender_code": f"S{sender:03d}",
                "kind": kind,
                "international_application_number": number,
                "due_on": due,
                "uploaded_at": datetime(2025, 12, 1, tzinfo=UTC),
            }
        )
        if i % 5 == 4:
            continue  # never sent
        late = timedelta(days=3) if i % 7 == 0 else timedelta(days=-2)
        at = datetime.combine(due, datetime.min.time(), tzinfo=UTC) + late + timedelta(hours=9)
        n += 1
        documents.append(_document(n, sender_ids[sender], kind, number, at))
        deliveries.append(_delivery(n, mailbox_id, sender_ids[sender], number, at))
    spread = 365 * 24 * 60 // max(1, items // 5)
    for j in range(items // 5):  # received, not expected, spread over the year
        at = datetime.combine(START, datetime.min.time(), tzinfo=UTC) + timedelta(
            minutes=j * spread
        )
        n += 1
        number = f"PCT/JP2026/{j:06d}"
        documents.append(_document(n, sender_ids[j % SENDERS], "record-copy", number, at))
        deliveries.append(_delivery(n, mailbox_id, sender_ids[j % SENDERS], number, at))
    for k in range(other):  # the rest of the service
        at = datetime.combine(START, datetime.min.time(), tzinfo=UTC) + timedelta(minutes=k * 3)
        n += 1
        number = f"EP{k:08d}.1"
        documents.append(_document(n, sender_ids[k % SENDERS], "R71", number, at))
        deliveries.append(_delivery(n, applicant_id, sender_ids[k % SENDERS], number, at))
    async with database.write() as session:
        for table, rows in (
            (ExpectedItem, expected),
            (Document, documents),
            (Delivery, deliveries),
        ):
            for start in range(0, len(rows), CHUNK):
                connection = await session.connection()
                await connection.execute(insert(table), rows[start : start + CHUNK])
    # Fresh statistics, as autovacuum would gather soon after such a load: without them
    # PostgreSQL plans the anti-join of the unexpected deliveries for empty tables.
    async with database.engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.exec_driver_sql("ANALYZE")
    async with database.session() as session:
        return await session.get(Office, hub_id)


async def measure(url: str | None, items: int, other: int, samples: int) -> dict[str, Any]:
    from sqlalchemy import event

    from mailbox.coverage.report import coverage
    from mailbox.db import Database, run_migrations

    scratch = tempfile.TemporaryDirectory()
    url = url or f"sqlite+aiosqlite:///{Path(scratch.name) / 'bench.db'}"
    run_migrations(url)
    database = Database(url)
    began = time.perf_counter()
    hub = await load(database, items, other)
    loaded = time.perf_counter() - began
    at = datetime(2027, 1, 15, 12, tzinfo=UTC)
    periods = {
        "month": (date(2026, 6, 1), date(2026, 6, 30)),
        "year": (date(2026, 1, 1), date(2026, 12, 31)),
    }
    figures: dict[str, Any] = {}
    for name, (first, last) in periods.items():
        times = []
        for _ in range(samples):
            async with database.session() as session:
                began = time.perf_counter()
                report = await coverage(
                    session=session, hub=hub, period_from=first, period_to=last, at=at
                )
                times.append(time.perf_counter() - began)
        classes: dict[str, int] = {}
        for item in report.items:
            classes[item.status.value] = classes.get(item.status.value, 0) + 1
        figures[name] = {
            "items": len(report.items),
            "classes": classes,
            "unexpected": len(report.unexpected),
            "best_ms": round(min(times) * 1000, 1),
            "median_ms": round(statistics.median(times) * 1000, 1),
        }
    # How many statements one report runs (the expected items, their deliveries, the rest).
    statements: list[str] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", capture)
    async with database.session() as session:
        month = periods["month"]
        await coverage(session=session, hub=hub, period_from=month[0], period_to=month[1], at=at)
    event.remove(database.engine.sync_engine, "before_cursor_execute", capture)
    figures["queries_per_report"] = len(statements)
    await database.dispose()
    scratch.cleanup()
    return {
        "database": "sqlite" if url.startswith("sqlite") else "postgresql",
        "expected_items": items,
        "deliveries": items * 4 // 5 + items // 5 + other,
        "load_seconds": round(loaded, 1),
        **figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--other", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    result = asyncio.run(measure(args.database_url, args.items, args.other, args.samples))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
