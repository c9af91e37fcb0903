"""National-phase entry notices (JSON data documents) per second: in bulk against one by one,
in the same run and the same service processes.

Run from the repository root:  python bench/notices.py [--count 1000] [--single 1000]
[--rounds 1]

It sets up a throw-away install (SQLite, local keys) and starts the real service
(`python -m mailbox serve`, with its scheduler, which works off bulk dispatches, and its
sealing processes) as a subprocess, as bench/bulk_dispatch.py does, and prints one JSON object:
- bulk: ``--count`` notices in one upload (`POST /api/v1/dispatch-batches`, a CSV manifest and a
  ZIP of ``.json`` files), per second from the start of the upload until the batch is done;
- single: the same notices (``--single`` of them) dispatched one by one over HTTP
  (`POST /api/v1/dispatches`, one request after the other, each with its Idempotency-Key),
  per second;
- bulk_vs_single: the ratio of the two medians (``--rounds`` alternating rounds of each).
Each notice is checked against its schema, stored as canonical JSON and sealed with a detached
CMS seal (timestamped) in the sealing processes, then evidenced and alerted like a PDF.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # our `mailbox`, not the standard-library module
if "mailbox" in sys.modules and not hasattr(sys.modules["mailbox"], "__path__"):
    del sys.modules["mailbox"]

import httpx  # noqa: E402
from bulk_dispatch import token  # noqa: E402
from dispatch import free_port, peak_rss_mb, seed  # noqa: E402

KIND = "national-phase-entry"
COLUMNS = ["recipient_account_id", "kind_code", "dossier_number", "title", "filename"]


def notice(n: int) -> bytes:
    """A valid national-phase entry notice of its own (the numbers differ per item)."""
    return json.dumps(
        {
            "notice": "national-phase-entry/1",
            "international_application_number": f"PCT/EP2026/{n % 10**6:06d}",
            "designated_office": "JP",
            "national_application_number": f"2026-{n:07d}",
            "entry_date": "2026-11-20",
            "status": "entered",
            "applicant_reference": f"BENCH-{n}",
        },
        indent=2,
    ).encode()


async def single(client: httpx.AsyncClient, headers: dict, account_id: str, n: int, start: int):
    started = time.perf_counter()
    for i in range(start, start + n):
        response = await client.post(
            "/api/v1/dispatches",
            headers={**headers, "Idempotency-Key": f"single-{i}"},
            files={"file": (f"notice-{i}.json", notice(i), "application/json")},
            data={
                "recipient_account_id": account_id,
                "kind_code": KIND,
                "dossier_number": f"PCT/EP2026/{i % 10**6:06d}",
                "title": f"National-phase entry notice {i}",
            },
        )
        assert response.status_code == 201, response.text
    elapsed = time.perf_counter() - started
    return {"notices": n, "seconds": round(elapsed, 2), "per_second": round(n / elapsed, 1)}


def upload_of(account_id: str, n: int, start: int) -> dict:
    manifest = io.StringIO()
    writer = csv.writer(manifest, lineterminator="\n")
    writer.writerow([*COLUMNS, "office_reference"])
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as notices:
        for i in range(start, start + n):
            name = f"notice-{i}.json"
            dossier = f"PCT/EP2026/{i % 10**6:06d}"
            writer.writerow([account_id, KIND, dossier, f"Notice {i}", name, f"bulk-{i}"])
            notices.writestr(name, notice(i))
    return {
        "manifest": ("manifest.csv", manifest.getvalue().encode(), "text/csv"),
        "archive": ("notices.zip", archive.getvalue(), "application/zip"),
    }


async def bulk(client: httpx.AsyncClient, headers: dict, account_id: str, n: int, start: int):
    upload = upload_of(account_id, n, start)
    started = time.perf_counter()
    created = await client.post("/api/v1/dispatch-batches", headers=headers, files=upload)
    assert created.status_code == 202, created.text
    uploaded = time.perf_counter() - started
    while True:
        batch = (await client.get(created.headers["location"], headers=headers)).json()
        if batch["status"] == "done":
            break
        await asyncio.sleep(0.2)
    elapsed = time.perf_counter() - started
    return {
        "notices": n,
        "accepted": batch["accepted"],
        "refused": batch["refused"],
        "upload_seconds": round(uploaded, 2),
        "seconds": round(elapsed, 2),
        "per_second": round(n / elapsed, 1),
    }


async def measure(base: str, env: dict, args: argparse.Namespace, pid: int) -> dict:
    """Alternating rounds of one batch then the same notices one by one; medians and ratio."""
    account_id, email, password = await seed(env)
    batches, singles = [], []
    async with httpx.AsyncClient(base_url=base, timeout=600) as client:
        headers = {"Authorization": f"Bearer {await token(client, email, password)}"}
        await single(client, headers, account_id, 5, start=10**8)  # warm the sealers
        for n in range(args.rounds):
            start = n * 10**5
            batches.append(await bulk(client, headers, account_id, args.count, start))
            singles.append(await single(client, headers, account_id, args.single, start))
    bulk_rate = statistics.median(r["per_second"] for r in batches)
    single_rate = statistics.median(r["per_second"] for r in singles)
    return {
        "bulk": {"median_per_second": bulk_rate, "rounds": batches},
        "single": {"median_per_second": single_rate, "rounds": singles},
        "bulk_vs_single": round(bulk_rate / single_rate, 2),
        "server_rss": peak_rss_mb(pid),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="Notices in each batch.")
    parser.add_argument(
        "--single", type=int, default=1000, help="Of the same notices, one by one, per round."
    )
    parser.add_argument("--rounds", type=int, default=1, help="Alternating rounds of each.")
    parser.add_argument("--workers", type=int, default=-1, help="Sealing processes (-1: cores).")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mailbox-bench-") as tmp:
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MAILBOX_")},
            "MAILBOX_DATA_DIR": tmp,
            "MAILBOX_PORT": str(port),
            "MAILBOX_LOG_LEVEL": "WARNING",
            "MAILBOX_SEALING_WORKERS": str(args.workers),
            "MAILBOX_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "MAILBOX_EMAIL_PICKUP_DIR": str(Path(tmp) / "mail"),
            "MAILBOX_BATCH_INTERVAL_SECONDS": "0.2",
        }
        subprocess.run(
            [sys.executable, "-m", "mailbox", "init"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        # The service's own lines go to a file: its output is not the benchmark's.
        log = (Path(tmp) / "serve.log").open("wb")
        server = subprocess.Popen(
            [sys.executable, "-m", "mailbox", "serve"],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            result = asyncio.run(measure(base, env, args, server.pid))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
            log.close()
    print(
        json.dumps(
            {
                "machine_cores": os.cpu_count(),
                "sealing_workers": args.workers if args.workers >= 0 else os.cpu_count(),
                "load_average_1m": round(os.getloadavg()[0], 2),
                **result,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
