"""Dispatch throughput through the HTTP API, held against the bare pyHanko seal floor measured
in the same run.

Run from the repository root:  python bench/dispatch.py [--seconds 15] [--concurrency 8]

It sets up a throw-away install (SQLite, local keys), starts the real service
(`python -m mailbox serve`) as a subprocess, and prints one JSON object:
- floor: a bare PAdES seal + embedded RFC 3161 token loop (one process, cached signer);
- one_page / five_mb: dispatches per second over HTTP with N concurrent clients, median and
  p95 latency, and the server's peak RSS (main process and sealing workers);
- seal_share: the share of one dispatch's latency (sequential, no contention) spent sealing.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # our `mailbox`, not the standard-library module
if "mailbox" in sys.modules and not hasattr(sys.modules["mailbox"], "__path__"):
    del sys.modules["mailbox"]

import httpx  # noqa: E402
import pyotp  # noqa: E402


def make_pdf(size_bytes: int | None = None) -> bytes:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    from mailbox.operations.demo import demo_pdf

    data = demo_pdf("Benchmark notice")
    if not size_bytes:
        return data
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    writer.root["/Padding"] = writer.add_object(
        generic.StreamObject(stream_data=os.urandom(size_bytes - len(data)))
    )
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def seal_floor(key_dir: Path, pdf: bytes, seconds: float) -> dict:
    """Bare pyHanko: PAdES seal with an embedded timestamp, signer loaded once."""
    from mailbox.signing.pki import load_key_material
    from mailbox.signing.seal import Sealer

    sealer = Sealer(load_key_material(key_dir))
    sealer.seal(pdf, reason="warm-up")
    times: list[float] = []
    started = time.perf_counter()
    while time.perf_counter() - started < seconds or len(times) < 10:
        t0 = time.perf_counter()
        sealer.seal(pdf, reason="bench")
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    # The median resists a stray pause of the machine; per_second follows from it.
    return {
        "per_second": round(1 / median, 1),
        "ms": round(1000 * median, 2),
        "samples": len(times),
    }


BENCH_TOTP_SECRET = "BENCHDISPATCHERTOTPSECRETAAAAAAA"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def seed(env: dict[str, str]) -> tuple[str, str, str]:
    """Office, account, dispatcher; returns (account_id, dispatcher email, password)."""
    from mailbox.config import Settings
    from mailbox.db import Database
    from mailbox.identity.admin import (
        add_verified_address,
        create_account,
        create_office,
        create_user,
        grant_role,
    )
    from mailbox.identity.second_factor import enrol_with_secret
    from mailbox.models import Role

    settings = Settings(data_dir=Path(env["MAILBOX_DATA_DIR"]))
    database = Database(settings.effective_database_url)
    async with database.write() as session:
        office = await create_office(session=session, code="BENCH", name="Bench Office")
        account = await create_account(
            session=session, name="Bench Applicant", postal_address="1 Bench Road", consent=True
        )
        await add_verified_address(session=session, account=account, email="a@bench.test")
        user = await create_user(
            session=session, email="d@bench.test", password="bench-password-1", display_name="Bench"
        )
        await grant_role(
            session=session, user_id=user.id, role=Role.DISPATCHER, office_id=office.id
        )
        # Dispatchers log in with a second factor.
        await enrol_with_secret(session=session, user_id=user.id, secret=BENCH_TOTP_SECRET)
    await database.dispose()
    return account.id, "d@bench.test", "bench-password-1"


def peak_rss_mb(pid: int) -> dict:
    """Peak resident memory of the server and of its children (the sealing workers)."""

    def hwm(p: int) -> float:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    kids = [int(x) for x in children.stdout.split()]
    grandkids = []
    for kid in kids:
        out = subprocess.run(["pgrep", "-P", str(kid)], capture_output=True, text=True)
        grandkids += [int(x) for x in out.stdout.split()]
    return {
        "server_mb": round(hwm(pid), 1),
        "largest_worker_mb": round(max([hwm(k) for k in kids + grandkids] or [0.0]), 1),
    }


async def load(
    base: str, token: str, account_id: str, pdf: bytes, *, seconds: float, concurrency: int
) -> dict:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            n = next(counter)
            started = time.perf_counter()
            response = await client.post(
                "/api/v1/dispatches",
                headers={"Authorization": f"Bearer {token}"},
                files={"file": ("bench.pdf", pdf, "application/pdf")},
                data={
                    "recipient_account_id": account_id,
                    "kind_code": "BENCH",
                    "dossier_number": f"EP{n}",
                    "title": f"Bench notice {n}",
                },
            )
            if response.status_code != 201:
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    ordered = sorted(latencies) or [0.0]
    return {
        "concurrency": concurrency,
        "dispatches": len(latencies),
        "errors": errors,
        "per_second": round(len(latencies) / elapsed, 1),
        "median_ms": round(1000 * statistics.median(ordered), 1),
        "p95_ms": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 1),
        "client_cpu_share": round(cpu / elapsed, 2),
    }


async def measure(
    base: str,
    env: dict[str, str],
    args: argparse.Namespace,
    server_pid: int,
    one_page: bytes,
    five_mb: bytes,
) -> dict:
    account_id, email, password = await seed(env)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        response = await client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "password",
                "username": email,
                "password": password,
                "totp": pyotp.TOTP(BENCH_TOTP_SECRET).now(),
            },
        )
        token = response.json()["access_token"]
    # Warm the sealing workers, then sequential latency, then throughput under load.
    await load(base, token, account_id, one_page, seconds=2, concurrency=2)
    sequential = await load(
        base, token, account_id, one_page, seconds=args.seconds / 3, concurrency=1
    )
    loaded = await load(
        base, token, account_id, one_page, seconds=args.seconds, concurrency=args.concurrency
    )
    big = await load(
        base,
        token,
        account_id,
        five_mb,
        seconds=args.seconds,
        concurrency=max(2, args.concurrency // 4),
    )
    return {
        "sequential_one_page": sequential,
        "one_page": loaded,
        "five_mb": big,
        "rss_after_five_mb": peak_rss_mb(server_pid),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=-1, help="Sealing processes (-1: cores).")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mailbox-bench-") as tmp:
        port = free_port()
        env = {
            **os.environ,
            "MAILBOX_DATA_DIR": tmp,
            "MAILBOX_PORT": str(port),
            "MAILBOX_SCHEDULER_ENABLED": "false",
            "MAILBOX_LOG_LEVEL": "WARNING",
            "MAILBOX_SEALING_WORKERS": str(args.workers),
            "MAILBOX_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        }
        subprocess.run(
            [sys.executable, "-m", "mailbox", "init"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        one_page, five_mb = make_pdf(), make_pdf(5 * 1024 * 1024)
        key_dir = Path(tmp) / "keys"
        floor = {
            "one_page": seal_floor(key_dir, one_page, args.seconds / 3),
            "five_mb": seal_floor(key_dir, five_mb, args.seconds / 3),
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "mailbox", "serve"], cwd=ROOT, env=env, start_new_session=True
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            result = asyncio.run(measure(base, env, args, server.pid, one_page, five_mb))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)

    seq = result["sequential_one_page"]["median_ms"]
    print(
        json.dumps(
            {
                "machine_cores": os.cpu_count(),
                "sealing_workers": args.workers if args.workers >= 0 else os.cpu_count(),
                "floor_seal_with_timestamp": floor,
                **result,
                "ratio_one_page_vs_floor": round(
                    result["one_page"]["per_second"] / floor["one_page"]["per_second"], 2
                ),
                "ratio_five_mb_vs_floor": round(
                    result["five_mb"]["per_second"] / floor["five_mb"]["per_second"], 2
                ),
                "seal_share_of_sequential_latency": (
                    round(floor["one_page"]["ms"] / seq, 2) if seq else None
                ),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
