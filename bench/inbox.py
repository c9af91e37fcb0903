"""Inbox pages at 10k and 1M deliveries: the raw SQL floor, list_inbox through the ORM, and
GET /api/v1/inbox end to end, all measured in the same run.

Run from the repository root:  python bench/inbox.py [--sizes 10000,1000000] [--samples 400]

For each size it builds a throw-away SQLite database (migrated, then offices, accounts,
documents and deliveries bulk-inserted in one transaction; the indexes are dropped for the load
and re-created from their own definitions). Deliveries spread over three years: one law firm
holds 10 % of them, two smaller accounts 1 % and 0.1 %, the rest ~36 each over n/40 accounts;
recent ones are mostly unread, old ones mostly picked up; 1 % went to paper. Two users read:
one with grants on the three accounts above, one on the law firm only.

Cases: the first page, a deep page (the cursor a client holds half way down the inbox),
unread=true first and deep, and a dossier_number filter; limit 50. Each is timed (p50, p99)
at three layers:
- raw: the very statement list_inbox emits (captured once per case and size), replayed with
  the standard library's sqlite3 and fetched as tuples: the floor for that query and index;
- orm: list_inbox on an AsyncSession (open, query, build objects, commit);
- http: GET /api/v1/inbox on the litestar app in process (httpx ASGITransport) with a real
  token: token check, principal and grants loaded, query, serialisation.
The sizes take turns call by call, so a pause of the machine or of the garbage collector
weighs on both alike.

It prints one JSON object: per case and size the figures, whether the three layers returned
the same rows, the p99 ratio largest/smallest size per layer (the goal: <= 1.5), each layer's
p50 over the raw floor, and EXPLAIN QUERY PLAN of the statement at the largest size.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import inspect
import json
import logging
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, closing
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # our `mailbox`, not the standard-library module
if "mailbox" in sys.modules and not hasattr(sys.modules["mailbox"], "__path__"):
    del sys.modules["mailbox"]

import httpx  # noqa: E402

PASSWORD = "bench-password-1"
LIMIT = 50
CHUNK = 50_000
YEARS = 3
# Shares of all deliveries held by the three accounts the benchmarked user reads.
FIRM, MEDIUM, SMALL = 0.10, 0.01, 0.001
PER_OTHER_ACCOUNT = 40  # one other account per this many deliveries
LAYERS = ("raw", "orm", "http")
READERS = {"three": "grants on three accounts", "one": "a grant on the law firm only"}
GOAL = 1.5
WARM_UP, MIN_SAMPLES, BUDGET_SECONDS = 20, 20, 4.0

EPOCH = datetime(1970, 1, 1)
_B32 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789abcdefghjkmnpqrstvwxyz")


def bench_id(prefix: str, at: datetime, rng: random.Random) -> str:
    """Like mailbox.ids.new_id (milliseconds then random bits, Crockford base32) for a given
    time, fast enough for a million rows."""
    ms = int((at - EPOCH).total_seconds() * 1000)
    value = ms << 80 | rng.getrandbits(80)
    return f"{prefix}_{base64.b32encode(value.to_bytes(16, 'big')).decode()[:26].translate(_B32)}"


def stamp(at: datetime) -> str:
    """A naive UTC datetime as SQLAlchemy stores it in SQLite."""
    return at.isoformat(" ", "microseconds")


@dataclass(frozen=True)
class Population:
    firm: str
    medium: str
    small: str
    offices: list[str]


def load(path: Path, n: int, end: datetime, seed: int = 7) -> Population:
    """Offices, accounts, documents and deliveries, bulk-inserted into the migrated ``path``."""
    rng = random.Random(seed)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    indexes = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL"
        " AND tbl_name IN ('delivery', 'document')"
    ).fetchall()
    db.execute("BEGIN")
    for name, _ in indexes:
        db.execute(f"DROP INDEX {name}")

    created = stamp(end - timedelta(days=365 * YEARS + 30))
    offices = [f"off_bench{k:02d}" for k in range(20)]
    db.executemany(
        "INSERT INTO office (id, code, name, deemed_delivery_days, paper_only_kinds, created_at)"
        " VALUES (?, ?, ?, 10, '[]', ?)",
        [(o, f"B{k:02d}", f"Bench Office {k}", created) for k, o in enumerate(offices)],
    )
    others = max(1, n // PER_OTHER_ACCOUNT)
    accounts = ["acc_firm", "acc_medium", "acc_small"] + [f"acc_o{k:07d}" for k in range(others)]
    db.executemany(
        "INSERT INTO account (id, name, postal_address, language, edelivery_consent_at,"
        " edelivery_active, notify_mode, created_at) VALUES (?, ?, ?, 'en', ?, 1, 'immediate', ?)",
        [(a, f"Applicant {a}", "1 Bench Road", created, created) for a in accounts],
    )
    expected = [n * FIRM, n * MEDIUM, n * SMALL] + [n * (1 - FIRM - MEDIUM - SMALL) / others] * 2
    dossiers = [max(1, int(e) // 4) for e in expected]  # ~4 communications per dossier

    span = YEARS * 365 * 86400.0
    offsets = sorted(rng.random() * span for _ in range(n))  # rows arrive in time order
    start = end - timedelta(seconds=span)
    for first in range(0, n, CHUNK):
        documents, deliveries = [], []
        for k in range(first, min(first + CHUNK, n)):
            at = start + timedelta(seconds=offsets[k])
            r = rng.random()
            if r < FIRM:
                a = 0
            elif r < FIRM + MEDIUM:
                a = 1
            elif r < FIRM + MEDIUM + SMALL:
                a = 2
            else:
                a = 3 + rng.randrange(others)
            dossier = f"EP{a:06d}{rng.randrange(dossiers[min(a, 3)]):05d}.{a % 10}"
            office = offices[rng.randrange(len(offices))]
            document_id, delivery_id = bench_id("doc", at, rng), bench_id("dlv", at, rng)
            submitted = stamp(at - timedelta(seconds=2))
            documents.append(
                (document_id, office, dossier, f"{k:064x}", f"{k + n:064x}", submitted)
            )
            age = end - at
            paper = rng.random() < 0.01
            picked = not paper and rng.random() < (0.4 if age < timedelta(days=14) else 0.9)
            due = at + timedelta(days=10)
            if paper:
                status, available, due_s, picked_at = "paper_queued", None, None, None
                deemed = None
            elif picked:
                status, available, due_s = "picked_up", stamp(at), stamp(due)
                picked_at, deemed = stamp(at + timedelta(seconds=rng.random() * 5 * 86400)), None
            else:
                available, due_s, picked_at = stamp(at), stamp(due), None
                status, deemed = (
                    ("deemed_delivered", due_s) if age > timedelta(days=10) else ("available", None)
                )
            deliveries.append(
                (
                    delivery_id,
                    document_id,
                    accounts[a],
                    office,
                    dossier,
                    status,
                    submitted,
                    available,
                    due_s,
                    None if paper else stamp(at + timedelta(seconds=30)),
                    picked_at,
                    "user:usr_bench" if picked else None,
                    deemed,
                    submitted if paper else None,
                )
            )
        db.executemany(
            "INSERT INTO document (id, office_id, kind_code, dossier_number, title, filename,"
            " original_sha256, sealed_sha256, original_size, sealed_size, created_at) VALUES"
            " (?, ?, 'R71', ?, 'Communication under Rule 71(3) EPC', 'notice.pdf', ?, ?,"
            " 48213, 61877, ?)",
            documents,
        )
        db.executemany(
            "INSERT INTO delivery (id, document_id, account_id, office_id, dossier_number,"
            " status, submitted_at, available_at, deemed_due_at, notified_at, picked_up_at,"
            " picked_up_by, deemed_delivered_at, paper_queued_at, reminders_sent) VALUES"
            " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
            deliveries,
        )
    for _, sql in indexes:
        db.execute(sql)
    db.execute("COMMIT")
    db.close()
    return Population("acc_firm", "acc_medium", "acc_small", offices)


def percentiles(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "p50_us": round(1e6 * statistics.median(ordered), 1),
        "p99_us": round(1e6 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1),
        "samples": len(ordered),
    }


async def timed_together(calls: dict[str, Callable[[], Any]], samples: int) -> dict[str, dict]:
    """Each call ``samples`` times after a warm-up, the calls taking turns; fewer rounds (at
    least MIN_SAMPLES) when they last longer than BUDGET_SECONDS, so that a slow query cannot
    stretch the run to many minutes. A call may be blocking or return an awaitable."""
    for call in calls.values():
        for _ in range(WARM_UP):
            result = call()
            if inspect.isawaitable(result):
                await result
    times: dict[str, list[float]] = {key: [] for key in calls}
    deadline = time.perf_counter() + BUDGET_SECONDS
    for done in range(samples):
        if done >= MIN_SAMPLES and time.perf_counter() > deadline:
            break
        for key, call in calls.items():
            started = time.perf_counter()
            result = call()
            if inspect.isawaitable(result):
                await result
            times[key].append(time.perf_counter() - started)
    return {key: percentiles(values) for key, values in times.items()}


def plan(db: sqlite3.Connection, sql: str, params: Any) -> list[str]:
    """EXPLAIN QUERY PLAN as indented lines."""
    rows = db.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    depth: dict[int, int] = {0: -1}
    lines = []
    for node, parent, _, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node] + detail)
    return lines


def count(db: sqlite3.Connection, accounts: list[str], unread: bool = False) -> int:
    marks = ",".join("?" * len(accounts))
    extra = " AND picked_up_at IS NULL" if unread else ""
    return db.execute(
        f"SELECT count(*) FROM delivery WHERE account_id IN ({marks})"
        f" AND available_at IS NOT NULL{extra}",
        accounts,
    ).fetchone()[0]


def row_at(db: sqlite3.Connection, accounts: list[str], depth: int, unread: bool) -> tuple:
    """(available_at, id, dossier_number) of the inbox's row number ``depth`` (1-based)."""
    marks = ",".join("?" * len(accounts))
    extra = " AND picked_up_at IS NULL" if unread else ""
    return db.execute(
        f"SELECT available_at, id, dossier_number FROM delivery WHERE account_id IN ({marks})"
        f" AND available_at IS NOT NULL{extra} ORDER BY available_at DESC, id DESC"
        " LIMIT 1 OFFSET ?",
        [*accounts, depth - 1],
    ).fetchone()


def cases(db: sqlite3.Connection, population: Population) -> tuple[dict, dict]:
    """The pages read, as (reader, list_inbox filters), and the inbox sizes behind them. A deep
    page starts after half of the inbox, with the cursor a client holds there."""
    from mailbox.clock import to_utc
    from mailbox.pagination import encode_cursor

    three = sorted([population.firm, population.medium, population.small])
    one = [population.firm]
    sizes = {
        "three_accounts": count(db, three),
        "one_account": count(db, one),
        "unread_three_accounts": count(db, three, unread=True),
    }

    def cursor(accounts: list[str], depth: int, unread: bool = False) -> str:
        at, row_id, _ = row_at(db, accounts, depth, unread)
        return encode_cursor(to_utc(datetime.fromisoformat(at)), row_id)

    dossier = row_at(db, one, sizes["one_account"] // 2, False)[2]
    unread_deep = cursor(three, sizes["unread_three_accounts"] // 2, unread=True)
    return {
        "first_page": ("three", {}),
        "deep_page": ("three", {"cursor": cursor(three, sizes["three_accounts"] // 2)}),
        "first_page_one_account": ("one", {}),
        "deep_page_one_account": ("one", {"cursor": cursor(one, sizes["one_account"] // 2)}),
        "unread_first_page": ("three", {"unread": True}),
        "unread_deep_page": ("three", {"unread": True, "cursor": unread_deep}),
        "dossier_number": ("three", {"dossier_number": dossier}),
    }, sizes


async def readers(services: Any, population: Population) -> dict[str, Any]:
    """The two benchmarked users, their grants, and their principals as a request loads them."""
    from mailbox.identity.admin import create_user, grant_role
    from mailbox.identity.principal import load_principal
    from mailbox.models import Role

    async with services.db.write() as session:
        three = await create_user(
            session=session, email="three@bench.test", password=PASSWORD, display_name="Firm"
        )
        one = await create_user(
            session=session, email="one@bench.test", password=PASSWORD, display_name="One"
        )
        for account in (population.firm, population.medium, population.small):
            await grant_role(session=session, user_id=three.id, role=Role.OWNER, account_id=account)
        await grant_role(
            session=session, user_id=one.id, role=Role.VIEWER, account_id=population.firm
        )
    async with services.db.session() as session:
        return {
            "three": await load_principal(session, three.id),
            "one": await load_principal(session, one.id),
        }


async def captured_statement(services: Any, call: Callable[[], Awaitable[Any]]) -> tuple:
    """The SQL and parameters of the one delivery query ``call`` sends to the database."""
    from sqlalchemy import event

    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "FROM delivery" in statement:
            seen.append((statement, params))

    engine = services.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        await call()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert len(seen) == 1, seen
    return seen[0]


@dataclass
class Site:
    """One size's database as the three layers reach it."""

    services: Any
    raw: sqlite3.Connection
    http: httpx.AsyncClient
    headers: dict[str, dict[str, str]]
    principals: dict[str, Any]
    pages: dict[str, tuple[str, dict[str, Any]]]


async def open_site(stack: AsyncExitStack, settings: Any, population: Population) -> Site:
    from mailbox.api.app import create_app
    from mailbox.services import Services

    services = Services.start(settings, sealing_workers=0)
    stack.push_async_callback(services.close)
    raw = sqlite3.connect(settings.effective_database_url.split("///", 1)[1])
    stack.callback(raw.close)
    principals = await readers(services, population)
    pages, _ = cases(raw, population)
    transport = httpx.ASGITransport(app=create_app(services=services), client=("203.0.113.7", 1))
    http = await stack.enter_async_context(
        httpx.AsyncClient(transport=transport, base_url="http://bench.test")
    )
    headers = {}
    for who in principals:
        response = await http.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": f"{who}@bench.test", "password": PASSWORD},
        )
        headers[who] = {"Authorization": f"Bearer {response.json()['access_token']}"}
    return Site(services, raw, http, headers, principals, pages)


async def layers(site: Site, case: str) -> tuple[dict[str, Callable[[], Any]], dict[str, Any]]:
    """The case's page read at each layer, and what the three returned and the plan."""
    from mailbox.deliveries.inbox import list_inbox

    who, filters = site.pages[case]

    async def orm() -> list[str]:
        async with site.services.db.session() as session:
            page = await list_inbox(
                session=session, principal=site.principals[who], limit=LIMIT, **filters
            )
        return [view.delivery.id for view in page.items]

    sql, params = await captured_statement(site.services, orm)

    def raw() -> list[tuple]:
        return site.raw.execute(sql, params).fetchall()

    query = {"limit": LIMIT, **{k: "true" if v is True else v for k, v in filters.items()}}

    async def http() -> list[str]:
        response = await site.http.get("/api/v1/inbox", params=query, headers=site.headers[who])
        return [item["id"] for item in response.json()["items"]]

    orm_ids = await orm()
    facts = {
        "rows": len(orm_ids),
        "same_rows_at_each_layer": [row[0] for row in raw()][:LIMIT] == orm_ids == await http(),
        "plan": plan(site.raw, sql, params),
    }
    return {"raw": raw, "orm": orm, "http": http}, facts


async def measure(built: dict[int, tuple[Any, Population]], samples: int) -> dict[str, Any]:
    """Every case at every size and layer, the sizes taking turns."""
    async with AsyncExitStack() as stack:
        sites = {n: await open_site(stack, s, p) for n, (s, p) in built.items()}
        results: dict[str, Any] = {}
        for case, (who, _) in sites[min(sites)].pages.items():
            per_size = {n: await layers(site, case) for n, site in sites.items()}
            result: dict[str, Any] = {"reader": READERS[who]}
            for layer in LAYERS:
                timed = await timed_together(
                    {str(n): calls[layer] for n, (calls, _) in per_size.items()}, samples
                )
                for n, figures in timed.items():
                    result.setdefault(n, {})[layer] = figures
            for n, (_, facts) in per_size.items():
                result[str(n)].update(rows=facts["rows"])
                result[str(n)]["same_rows_at_each_layer"] = facts["same_rows_at_each_layer"]
            largest = max(sites)
            result[f"plan_at_{largest}"] = per_size[largest][1]["plan"]
            results[case] = result
        return results


def summary(results: dict[str, Any], sizes: list[int]) -> dict[str, Any]:
    """Per case: p99 ratio largest/smallest size per layer, and each layer's p50 over raw."""
    small, large = str(min(sizes)), str(max(sizes))
    worst = 0.0
    for result in results.values():
        ratios = {
            layer: round(result[large][layer]["p99_us"] / result[small][layer]["p99_us"], 2)
            for layer in LAYERS
        }
        result[f"p99_ratio_{large}_over_{small}"] = ratios
        worst = max(worst, *ratios.values())
        for layer in LAYERS[1:]:
            result[f"{layer}_over_raw_p50"] = {
                str(n): round(result[str(n)][layer]["p50_us"] / result[str(n)]["raw"]["p50_us"], 1)
                for n in sizes
            }
    return {"worst_p99_ratio": worst, "goal_p99_ratio_at_most": GOAL, "goal_met": worst <= GOAL}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000", help="Delivery counts, comma-separated")
    parser.add_argument("--samples", type=int, default=400, help="Timed calls per case and layer")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    logging.getLogger("alembic").setLevel(logging.WARNING)

    from mailbox.clock import now
    from mailbox.config import Settings
    from mailbox.operations.setup import initialise

    end = now().replace(tzinfo=None)
    databases: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mailbox-bench-") as tmp:
        base = Path(tmp)
        common: dict[str, Any] = {
            "key_dir": base / "keys",
            "sealing_workers": 0,
            "scheduler_enabled": False,
            "public_base_url": "https://mailbox.bench.test",
        }
        template = Settings(data_dir=base / "template", **common)
        initialise(template)
        built = {}
        for n in sizes:
            path = base / f"inbox-{n}.db"
            shutil.copy(template.effective_database_url.split("///", 1)[1], path)
            started = time.perf_counter()
            population = load(path, n, end)
            databases[str(n)] = {
                "build_seconds": round(time.perf_counter() - started, 1),
                "file_mb": round(path.stat().st_size / 2**20),
            }
            settings = Settings(
                data_dir=base / f"data-{n}", database_url=f"sqlite+aiosqlite:///{path}", **common
            )
            initialise(settings)
            built[n] = (settings, population)
            with closing(sqlite3.connect(path)) as db:
                databases[str(n)]["inbox_sizes"] = cases(db, population)[1]
        started = time.perf_counter()
        results = asyncio.run(measure(built, args.samples))
        measuring = time.perf_counter() - started
    report = {
        "machine_cores": os.cpu_count(),
        "limit": LIMIT,
        "databases": databases,
        "measuring_seconds": round(measuring, 1),
        "cases": results,
        **summary(results, sizes),
        "measured": (
            "p50/p99 of one page (limit 50) per call, sizes taking turns call by call. raw: the "
            "statement list_inbox sends, replayed with sqlite3 and fetched as tuples. orm: "
            "list_inbox on an AsyncSession (open, query, objects, commit), principal loaded "
            "beforehand. http: GET /api/v1/inbox through the app in process (httpx "
            "ASGITransport): token check, principal and grants loaded, query, JSON."
        ),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
