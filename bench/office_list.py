"""An office's dispatch list (GET /api/v1/dispatches) at two sizes, page by page and filter
by filter: the raw SQL floor, list_dispatches through the ORM, and the HTTP route end to end,
all measured in the same run.

Run from the repository root:  python bench/office_list.py [--sizes 10000,1000000] [--samples 200]

The databases are those of bench/inbox.py (its loader: 20 offices share the deliveries, so one
office holds about n/20; 1 % went to paper, old ones mostly picked up). The reader is a
dispatcher of the first office. Cases: the first page, a deep page (the cursor half way down
the office's list), and one page of each filter: status=paper_queued, a dossier, a recipient
by account id and by a part of its name, dispatched in one month a year ago,
not_picked_up_after_days=7, on_paper=true; limit 50, each timed (p50, p99) at three layers as
bench/inbox.py does. It prints one JSON object: per case and size the figures, the rows found,
the p99 ratio largest/smallest size per layer, and EXPLAIN QUERY PLAN at the largest size
(which index each filter reads).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import logging
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("inbox_bench", ROOT / "bench" / "inbox.py")
assert _spec is not None and _spec.loader is not None
inbox_bench = importlib.util.module_from_spec(_spec)
sys.modules["inbox_bench"] = inbox_bench  # its dataclasses look their module up
_spec.loader.exec_module(inbox_bench)  # also puts the repository root first on sys.path

import httpx  # noqa: E402

PASSWORD = inbox_bench.PASSWORD
LIMIT = 50
LAYERS = ("raw", "orm", "http")


def cases(db: sqlite3.Connection, office: str, end: datetime) -> dict[str, dict[str, Any]]:
    """The pages read, as query parameters of GET /api/v1/dispatches."""
    from mailbox.clock import to_utc
    from mailbox.pagination import encode_cursor

    total = db.execute("SELECT count(*) FROM delivery WHERE office_id = ?", [office]).fetchone()[0]
    at, row_id, dossier = db.execute(
        "SELECT submitted_at, id, dossier_number FROM delivery WHERE office_id = ?"
        " ORDER BY submitted_at DESC, id DESC LIMIT 1 OFFSET ?",
        [office, total // 2],
    ).fetchone()
    month = (end - timedelta(days=365)).date()
    return {
        "first_page": {},
        "deep_page": {"cursor": encode_cursor(to_utc(datetime.fromisoformat(at)), row_id)},
        "status_paper_queued": {"status": "paper_queued"},
        "dossier_number": {"dossier_number": dossier},
        "recipient_account_id": {"recipient": "acc_medium"},
        "recipient_name_part": {"recipient": "applicant acc_small"},
        "dispatched_in_one_month": {
            "dispatched_from": month,
            "dispatched_to": month + timedelta(days=30),
        },
        "not_picked_up_after_7_days": {"not_picked_up_after_days": 7},
        "on_paper": {"on_paper": True},
    }


@dataclass
class Site:
    services: Any
    raw: sqlite3.Connection
    http: httpx.AsyncClient
    headers: dict[str, str]
    principal: Any
    pages: dict[str, dict[str, Any]]


async def open_site(stack: AsyncExitStack, settings: Any, office: str, end: datetime) -> Site:
    from mailbox.api.app import create_app
    from mailbox.identity.admin import create_user, grant_role
    from mailbox.identity.principal import load_principal
    from mailbox.models import Role
    from mailbox.services import Services

    services = Services.start(settings, sealing_workers=0)
    stack.push_async_callback(services.close)
    raw = sqlite3.connect(settings.effective_database_url.split("///", 1)[1])
    stack.callback(raw.close)
    async with services.db.write() as session:
        # An API client's token would do as well; a person's needs no second factor here
        # (the bench enrols none and reads with a token issued before it would be asked).
        user = await create_user(
            session=session, email="clerk@bench.test", password=PASSWORD, display_name="Clerk"
        )
        await grant_role(session=session, user_id=user.id, role=Role.DISPATCHER, office_id=office)
    async with services.db.session() as session:
        principal = await load_principal(session, user.id)
    transport = httpx.ASGITransport(app=create_app(services=services), client=("203.0.113.7", 1))
    http = await stack.enter_async_context(
        httpx.AsyncClient(transport=transport, base_url="http://bench.test")
    )
    headers = {"Authorization": f"Bearer {services.tokens.issue(user.id, epoch=0).token}"}
    return Site(services, raw, http, headers, principal, cases(raw, office, end))


async def layers(site: Site, case: str) -> tuple[dict[str, Any], dict[str, Any]]:
    from mailbox.deliveries.office_list import DispatchFilter, list_dispatches

    params = dict(site.pages[case])
    cursor = params.pop("cursor", None)
    filters = DispatchFilter(**params)

    async def orm() -> list[str]:
        async with site.services.db.session() as session:
            page = await list_dispatches(
                session=session,
                principal=site.principal,
                filters=filters,
                limit=LIMIT,
                cursor=cursor,
            )
        return [item.view.delivery.id for item in page.items]

    sql, values = await inbox_bench.captured_statement(site.services, orm)

    def raw() -> list[tuple]:
        return site.raw.execute(sql, values).fetchall()

    query = {
        "limit": LIMIT,
        **{k: ("true" if v is True else str(v)) for k, v in site.pages[case].items()},
    }

    async def http() -> list[str]:
        response = await site.http.get("/api/v1/dispatches", params=query, headers=site.headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    ids = await orm()
    facts = {
        "rows": len(ids),
        "same_rows_at_each_layer": [row[0] for row in raw()][:LIMIT] == ids == await http(),
        "plan": inbox_bench.plan(site.raw, sql, values),
    }
    return {"raw": raw, "orm": orm, "http": http}, facts


async def measure(built: dict[int, Any], samples: int, office: str, end: datetime) -> dict:
    async with AsyncExitStack() as stack:
        sites = {n: await open_site(stack, s, office, end) for n, s in built.items()}
        results: dict[str, Any] = {}
        for case in sites[min(sites)].pages:
            per_size = {n: await layers(site, case) for n, site in sites.items()}
            result: dict[str, Any] = {}
            for layer in LAYERS:
                timed = await inbox_bench.timed_together(
                    {str(n): calls[layer] for n, (calls, _) in per_size.items()}, samples
                )
                for n, figures in timed.items():
                    result.setdefault(n, {})[layer] = figures
            for n, (_, facts) in per_size.items():
                result[str(n)].update(
                    rows=facts["rows"], same_rows_at_each_layer=facts["same_rows_at_each_layer"]
                )
            small, large = str(min(sites)), str(max(sites))
            result[f"p99_ratio_{large}_over_{small}"] = {
                layer: round(result[large][layer]["p99_us"] / result[small][layer]["p99_us"], 2)
                for layer in LAYERS
            }
            result[f"plan_at_{large}"] = per_size[max(sites)][1]["plan"]
            results[case] = result
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000", help="Delivery counts, comma-separated")
    parser.add_argument("--samples", type=int, default=200, help="Timed calls per case and layer")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    logging.getLogger("httpx").setLevel(logging.WARNING)
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
        office = ""
        for n in sizes:
            path = base / f"office-{n}.db"
            shutil.copy(template.effective_database_url.split("///", 1)[1], path)
            started = time.perf_counter()
            population = inbox_bench.load(path, n, end)
            office = population.offices[0]
            with sqlite3.connect(path) as db:
                held = db.execute(
                    "SELECT count(*) FROM delivery WHERE office_id = ?", [office]
                ).fetchone()[0]
            databases[str(n)] = {
                "build_seconds": round(time.perf_counter() - started, 1),
                "office_deliveries": held,
            }
            settings = Settings(
                data_dir=base / f"data-{n}", database_url=f"sqlite+aiosqlite:///{path}", **common
            )
            initialise(settings)
            built[n] = settings
        started = time.perf_counter()
        results = asyncio.run(measure(built, args.samples, office, end))
    report = {
        "machine_cores": os.cpu_count(),
        "limit": LIMIT,
        "databases": databases,
        "measuring_seconds": round(time.perf_counter() - started, 1),
        "cases": results,
        "measured": (
            "p50/p99 of one page (limit 50) per call, sizes taking turns call by call. raw: the "
            "statement list_dispatches sends, replayed with sqlite3. orm: list_dispatches on an "
            "AsyncSession. http: GET /api/v1/dispatches through the app in process."
        ),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    sys.exit(main())
