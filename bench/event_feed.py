"""The event feed: events per second to one client following its cursor, and long-poll
wake-up latency (median, p99) from a commit to the waiting client's answer.

Run from the repository root:  python bench/event_feed.py [--events 20000] [--samples 50]

On a fresh demo install (SQLite, through the real litestar app in this process with httpx's
ASGITransport and real tokens):
- throughput: ``--events`` evidence records are bulk-inserted for the demo applicant's
  deliveries (hashes and signatures are filler: the feed reads neither), then one client reads
  the whole feed, ``limit=200`` a page, following ``next_cursor``; once as the applicant and
  once as the office's dispatcher. Figures: events per second and pages per second.
- wake-up, same process: a request waits (``wait=10``) at the head; the service appends one
  real evidence record (signed, timestamped) in its own process; the time from the commit to
  the client holding the answer. The evidence bell wakes the waiter.
- wake-up, another writer: the same with the record committed by another connection outside
  the service's engine (as another instance or the CLI would), which the waiter hears through
  the head poll (``feed_poll_interval_seconds``, 0.25 s by default).

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pyotp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailbox.api.app import create_app  # noqa: E402
from mailbox.config import Settings  # noqa: E402
from mailbox.evidence import log as evidence  # noqa: E402
from mailbox.evidence.log import EvidenceDraft, EvidenceType  # noqa: E402
from mailbox.notifications.feed_wait import watch_for  # noqa: E402
from mailbox.operations.demo import DEMO_TOTP_SECRETS, DEMO_USERS  # noqa: E402
from mailbox.services import Services  # noqa: E402

FEED_TYPES = ("ContentConsignment", "NotificationFailure", "ContentHandover", "DeemedDelivery")


def demo_install(data_dir: Path) -> None:
    env = {**os.environ, "MAILBOX_DATA_DIR": str(data_dir), "MAILBOX_SEALING_WORKERS": "0"}
    env["MAILBOX_EMAIL_PICKUP_DIR"] = str(data_dir / "outgoing-mail")
    subprocess.run(
        [sys.executable, "-m", "mailbox", "demo", "--no-serve"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


def bulk_events(db_path: Path, count: int) -> list[str]:
    """Append ``count`` filler records about the demo's deliveries; their ids."""
    with sqlite3.connect(db_path) as db:
        deliveries = [row[0] for row in db.execute("SELECT id FROM delivery ORDER BY id")]
        (head,) = db.execute("SELECT seq FROM evidence_head WHERE id = 1").fetchone()
        rows = [
            (
                head + n,
                f"evd_bench{n:012d}",
                deliveries[n % len(deliveries)],
                FEED_TYPES[n % len(FEED_TYPES)],
                "2026-01-01 00:00:00.000000",
                "service",
                "{}",
                "0" * 64,
                "0" * 64,
                b"",
                b"",
            )
            for n in range(1, count + 1)
        ]
        db.executemany(
            "INSERT INTO evidence (seq, id, delivery_id, type, occurred_at, actor, details, "
            "prev_hash, record_hash, signature, timestamp_token) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        db.execute("UPDATE evidence_head SET seq = ? WHERE id = 1", (head + count,))
    return deliveries


def other_writer_append(db_path: Path, delivery_id: str, n: int) -> float:
    """Commit one record through a connection of its own; the moment it committed."""
    with sqlite3.connect(db_path, timeout=30) as db:
        (head,) = db.execute("SELECT seq FROM evidence_head WHERE id = 1").fetchone()
        db.execute(
            "INSERT INTO evidence (seq, id, delivery_id, type, occurred_at, actor, details, "
            "prev_hash, record_hash, signature, timestamp_token) "
            "VALUES (?, ?, ?, 'NotificationFailure', '2026-01-01 00:00:00.000000', 'bench', "
            "'{}', ?, ?, x'', x'')",
            (head + 1, f"evd_other{n:09d}", delivery_id, "0" * 64, "0" * 64),
        )
        db.execute("UPDATE evidence_head SET seq = ? WHERE id = 1", (head + 1,))
    return time.monotonic()


async def token(http: httpx.AsyncClient, role: str) -> dict[str, str]:
    email, password = DEMO_USERS[role]
    form = {"grant_type": "password", "username": email, "password": password}
    if role in DEMO_TOTP_SECRETS:
        form["totp"] = pyotp.TOTP(DEMO_TOTP_SECRETS[role]).now()
    response = await http.post("/api/v1/auth/token", data=form)
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def read_all(http: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, object]:
    after, events, pages = "", 0, 0
    began = time.perf_counter()
    while True:
        params = {"limit": 200, **({"after": after} if after else {})}
        page = (await http.get("/api/v1/events", headers=headers, params=params)).json()
        pages += 1
        events += len(page["items"])
        if page["next_cursor"] == after:
            break
        after = page["next_cursor"]
    seconds = time.perf_counter() - began
    return {
        "events": events,
        "pages": pages,
        "seconds": round(seconds, 3),
        "events_per_second": round(events / seconds),
        "pages_per_second": round(pages / seconds, 1),
        "cursor": after,
    }


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "samples": len(samples),
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(p99 * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


async def measure(data_dir: Path, samples: int) -> dict[str, object]:
    settings = Settings(data_dir=data_dir, sealing_workers=0, scheduler_enabled=False)
    services = Services.start(settings)
    transport = httpx.ASGITransport(app=create_app(services=services))
    db_path = data_dir / "mailbox.db"
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", timeout=60
        ) as http:
            applicant = await token(http, "applicant")
            dispatcher = await token(http, "dispatcher")
            throughput = {
                "applicant": await read_all(http, applicant),
                "office": await read_all(http, dispatcher),
            }
            deliveries = [
                row[0] for row in sqlite3.connect(db_path).execute("SELECT id FROM delivery")
            ]

            cursor = str(throughput["applicant"].pop("cursor"))
            throughput["office"].pop("cursor")

            async def wake_up(commit) -> float:  # type: ignore[no-untyped-def]
                nonlocal cursor
                waiting = asyncio.create_task(
                    http.get(
                        "/api/v1/events",
                        headers=applicant,
                        params={"after": cursor, "wait": 10},
                    )
                )
                watch = watch_for(services)
                while watch.waiting == 0:  # until the request really waits
                    await asyncio.sleep(0.001)
                    assert not waiting.done(), waiting.result().text
                await asyncio.sleep(0.01)
                committed = await commit()
                response = await waiting
                answered = time.monotonic()
                assert len(response.json()["items"]) == 1, response.text
                cursor = response.json()["next_cursor"]
                return answered - committed

            async def in_process() -> float:
                async with services.db.write() as session:
                    await evidence.append(
                        session,
                        services.evidence,
                        EvidenceDraft(EvidenceType.NOTIFICATION_FAILURE, "bench"),
                        delivery_id=deliveries[0],
                    )
                return time.monotonic()

            same = [await wake_up(in_process) for _ in range(samples)]
            counter = iter(range(samples))

            async def elsewhere() -> float:
                return await asyncio.to_thread(
                    other_writer_append, db_path, deliveries[0], next(counter)
                )

            other = [await wake_up(elsewhere) for _ in range(samples)]
    finally:
        await services.close()
    return {
        "throughput_one_client": throughput,
        "long_poll_wake_up": {
            "same_process_commit": percentiles(same),
            "other_writer_commit": percentiles(other),
            "poll_interval_seconds": settings.feed_poll_interval_seconds,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        demo_install(data_dir)
        bulk_events(data_dir / "mailbox.db", args.events)
        figures = asyncio.run(measure(data_dir, args.samples))
    print(json.dumps({"database": "sqlite", "bulk_events": args.events, **figures}, indent=2))


if __name__ == "__main__":
    main()
