"""Bulk dispatch throughput against single dispatches, in the same run and the same service
processes.

Run from the repository root:  python bench/bulk_dispatch.py [--single 100] [--bulk 500]
[--rounds 3]

It sets up a throw-away install (SQLite, local keys), starts the real service
(`python -m mailbox serve`, with its scheduler, which works off bulk dispatches, and its
sealing processes) as a subprocess, and prints one JSON object:
- single: documents dispatched one by one over HTTP (`POST /api/v1/dispatches`, one request
  after the other, each with its Idempotency-Key), per second;
- bulk: the same kind of documents in one upload (`POST /api/v1/dispatch-batches`, a CSV
  manifest and a ZIP), per second from the start of the upload until the batch is done;
- bulk_vs_single: the ratio of the two medians (``--rounds`` alternating rounds of each).
Both go through the same dispatch function (seal, store, evidence, alerts), so the ratio is
what batching the requests and dispatching items side by side gains.
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
import pyotp  # noqa: E402
from dispatch import BENCH_TOTP_SECRET, free_port, make_pdf, peak_rss_mb, seed  # noqa: E402


def numbered_pdf(template: bytes, n: int) -> bytes:
    """A distinct document per item (a comment after the end of the file changes its hash)."""
    return template + f"\n% bench document {n}\n".encode()


async def token(client: httpx.AsyncClient, email: str, password: str) -> str:
    response = await client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "password",
            "username": email,
            "password": password,
            "totp": pyotp.TOTP(BENCH_TOTP_SECRET).now(),
        },
    )
    response.raise_for_status()
    return response.json()["access_token"]


async def single(
    client: httpx.AsyncClient, headers: dict, account_id: str, pdf: bytes, n: int, start: int = 0
):
    started = time.perf_counter()
    for i in range(start, start + n):
        response = await client.post(
            "/api/v1/dispatches",
            headers={**headers, "Idempotency-Key": f"single-{i}"},
            files={"file": (f"single-{i}.pdf", numbered_pdf(pdf, i), "application/pdf")},
            data={
                "recipient_account_id": account_id,
                "kind_code": "BENCH",
                "dossier_number": f"EP{i}",
                "title": f"Single notice {i}",
            },
        )
        assert response.status_code == 201, response.text
    elapsed = time.perf_counter() - started
    return {"documents": n, "seconds": round(elapsed, 2), "per_second": round(n / elapsed, 1)}


def upload_of(account_id: str, pdf: bytes, n: int, start: int) -> dict:
    manifest = io.StringIO()
    writer = csv.writer(manifest, lineterminator="\n")
    writer.writerow(
        [
            "recipient_account_id",
            "kind_code",
            "dossier_number",
            "title",
            "filename",
            "office_reference",
        ]
    )
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as pdfs:
        for i in range(start, start + n):
            name = f"bulk-{i}.pdf"
            writer.writerow([account_id, "BENCH", f"EP{i}", f"Bulk notice {i}", name, f"bulk-{i}"])
            pdfs.writestr(name, numbered_pdf(pdf, 10**6 + i))
    return {
        "manifest": ("manifest.csv", manifest.getvalue().encode(), "text/csv"),
        "archive": ("pdfs.zip", archive.getvalue(), "application/zip"),
    }


async def bulk(
    client: httpx.AsyncClient, headers: dict, account_id: str, pdf: bytes, n: int, start: int
):
    upload = upload_of(account_id, pdf, n, start)
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
        "documents": n,
        "accepted": batch["accepted"],
        "refused": batch["refused"],
        "upload_seconds": round(uploaded, 2),
        "seconds": round(elapsed, 2),
        "per_second": round(n / elapsed, 1),
    }


async def measure(base: str, env: dict, args: argparse.Namespace, pid: int) -> dict:
    """Rounds of single dispatches then one batch, alternating, so that both meet the same
    moments of the machine; the medians and their ratio."""
    account_id, email, password = await seed(env)
    pdf = make_pdf()
    singles, batches = [], []
    async with httpx.AsyncClient(base_url=base, timeout=300) as client:
        headers = {"Authorization": f"Bearer {await token(client, email, password)}"}
        await single(client, headers, account_id, pdf, 5, start=10**7)  # warm the sealers
        for n in range(args.rounds):
            singles.append(
                await single(client, headers, account_id, pdf, args.single, start=n * 10**5)
            )
            batches.append(await bulk(client, headers, account_id, pdf, args.bulk, start=n * 10**5))
    single_rate = statistics.median(r["per_second"] for r in singles)
    bulk_rate = statistics.median(r["per_second"] for r in batches)
    return {
        "single": {"median_per_second": single_rate, "rounds": singles},
        "bulk": {"median_per_second": bulk_rate, "rounds": batches},
        "bulk_vs_single": round(bulk_rate / single_rate, 2),
        "server_rss": peak_rss_mb(pid),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--single", type=int, default=100, help="Documents one by one, per round.")
    parser.add_argument("--bulk", type=int, default=500, help="Documents in each batch.")
    parser.add_argument("--rounds", type=int, default=3, help="Alternating rounds of each.")
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
