"""Fault runs: the service's own failures, tried as an operator would meet them, with figures.

Run from the repository root:  python bench/faults.py [--only NAME ...] [--postgres URL]

Each run sets up a throw-away install, starts the real service (`python -m mailbox serve` or
`worker`) as child processes, breaks something of ours and prints what a client and a recipient
saw. One JSON object with one entry per run:

- smtp_outage: the mail server is down for longer than the whole retry budget while 20
  documents are dispatched; then it comes back. Counts dead alerts, paper relays, suspended
  accounts, and alerts received once the server is back.
- disk_full: the blob store is a 3 MiB tmpfs (needs root; otherwise reported as not run);
  dispatches go on until it is full. Counts the statuses seen, deliveries recorded for the
  201s, temporary files left behind.
- kill_during_dispatch: 200 dispatches, each with an Idempotency-Key, while the whole service
  is SIGKILLed 8 times and restarted; every client retries with the same key until it gets an
  answer. Counts lost and duplicated documents, orphan blobs left by the kills and what the
  sweep removes, and whether `audit verify` is clean.
- database_lost: PostgreSQL backends are terminated 10 times during 400 dispatches (8 at once,
  half without an Idempotency-Key). Counts statuses, a 5xx after a commit (a delivery recorded
  whose client saw an error) and duplicates.
- two_workers_and_sigterm: a second `worker` on the same SQLite file (it must refuse), then
  SIGTERM to the server while a large dispatch is in flight (it must finish, exit 0 and leave
  no process of its group).

Traffic goes to 127.0.0.1 only; each run is bounded in requests and time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # our `mailbox`, not the standard-library module
if "mailbox" in sys.modules and not hasattr(sys.modules["mailbox"], "__path__"):
    del sys.modules["mailbox"]

import httpx  # noqa: E402
import pyotp  # noqa: E402

PG_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432"
PASSWORD = "fault-run-password-1"
TOTP_SECRET = "FAULTRUNDISPATCHERTOTPSECRETAAAA"  # dispatchers log in with a second factor


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_env(data_dir: Path, port: int, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBOX_")}
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "MAILBOX_DATA_DIR": str(data_dir),
            "MAILBOX_PORT": str(port),
            "MAILBOX_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "MAILBOX_LOG_LEVEL": "WARNING",
            "MAILBOX_SEALING_WORKERS": "0",
        }
    )
    env.update({f"MAILBOX_{k.upper()}": v for k, v in settings.items()})
    return env


def cli(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mailbox", *args],
        cwd=ROOT,
        env=env,
        check=check,
        capture_output=True,
        text=True,
        timeout=300,
    )


@contextlib.contextmanager
def service(env: dict[str, str], command: str = "serve") -> Iterator[subprocess.Popen]:
    process = start(env, command)
    try:
        yield process
    finally:
        stop(process)


def start(env: dict[str, str], command: str = "serve") -> subprocess.Popen:
    log_path = Path(env["MAILBOX_DATA_DIR"]) / f"{command}-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "mailbox", command],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    process.log_path = log_path  # type: ignore[attr-defined]
    if command == "serve":
        base = env["MAILBOX_PUBLIC_BASE_URL"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"serve exited: {log_tail(process)}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code in (200, 503):
                    return process
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the service did not start within 60 s")
    return process


def log_tail(process: subprocess.Popen, lines: int = 3) -> list[str]:
    """The last lines a child started by :func:`start` wrote."""
    text = process.log_path.read_text(errors="replace")  # type: ignore[attr-defined]
    return [line[:300] for line in text.strip().splitlines()[-lines:]]


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stop(process: subprocess.Popen, signum: int = signal.SIGTERM) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def kill(process: subprocess.Popen) -> None:
    stop(process, signal.SIGKILL)


async def seed(env: dict[str, str], accounts: int = 1) -> list[str]:
    """One office with a dispatcher, and ``accounts`` consenting accounts with a verified
    address each; returns the account ids."""
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

    settings = Settings(
        data_dir=Path(env["MAILBOX_DATA_DIR"]), database_url=env.get("MAILBOX_DATABASE_URL", "")
    )
    database = Database(settings.effective_database_url)
    ids = []
    async with database.write() as session:
        office = await create_office(session=session, code="FAULT", name="Fault Office")
        for n in range(accounts):
            account = await create_account(
                session=session, name=f"Applicant {n}", postal_address="1 Road", consent=True
            )
            await add_verified_address(
                session=session, account=account, email=f"applicant{n}@fault.test"
            )
            ids.append(account.id)
        user = await create_user(
            session=session, email="clerk@fault.test", password=PASSWORD, display_name="Clerk"
        )
        await grant_role(
            session=session, user_id=user.id, role=Role.DISPATCHER, office_id=office.id
        )
        await enrol_with_secret(session=session, user_id=user.id, secret=TOTP_SECRET)
    await database.dispose()
    return ids


async def query(env: dict[str, str], sql: str) -> list[tuple]:
    from sqlalchemy import text

    from mailbox.config import Settings
    from mailbox.db import Database

    settings = Settings(
        data_dir=Path(env["MAILBOX_DATA_DIR"]), database_url=env.get("MAILBOX_DATABASE_URL", "")
    )
    database = Database(settings.effective_database_url)
    try:
        async with database.session() as session:
            return [tuple(row) for row in (await session.exec(text(sql))).all()]
    finally:
        await database.dispose()


def token(base: str) -> str:
    response = httpx.post(
        f"{base}/api/v1/auth/token",
        data={
            "grant_type": "password",
            "username": "clerk@fault.test",
            "password": PASSWORD,
            "totp": pyotp.TOTP(TOTP_SECRET).now(),
        },
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["access_token"]


def pdf(title: str = "Fault run notice", pad: int = 0) -> bytes:
    import io

    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    from mailbox.operations.demo import demo_pdf

    data = demo_pdf(title)
    if not pad:
        return data
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    writer.root["/Padding"] = writer.add_object(generic.StreamObject(stream_data=os.urandom(pad)))
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def dispatch(
    client: httpx.AsyncClient,
    bearer: str,
    account_id: str,
    document: bytes,
    n: int,
    key: str | None = None,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {bearer}"}
    if key:
        headers["Idempotency-Key"] = key
    return await client.post(
        "/api/v1/dispatches",
        headers=headers,
        files={"file": (f"notice-{n}.pdf", document, "application/pdf")},
        data={
            "recipient_account_id": account_id,
            "kind_code": "FAULT",
            "dossier_number": f"EP{n:06d}",
            "title": f"Fault notice {n}",
        },
    )


def smtp_sink(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "smtp_sink.py"), "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "ready"
    return process


def sink_count(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=10)
    return json.loads(out.strip().splitlines()[-1])["received"]


def blob_files(blob_dir: Path) -> tuple[int, int]:
    """(blobs, temporary files) under the blob store."""
    blobs = temps = 0
    for path in blob_dir.rglob("*"):
        if path.is_file():
            if ".tmp" in path.name or path.name.startswith("."):
                temps += 1
            else:
                blobs += 1
    return blobs, temps


# -- the runs ------------------------------------------------------------------------------------


def smtp_outage(tmp: Path, _args: argparse.Namespace) -> dict[str, Any]:
    port, smtp_port = free_port(), free_port()
    env = make_env(
        tmp,
        port,
        smtp_port=str(smtp_port),
        outbox_interval_seconds="0.2",
        outbox_backoff_seconds="0.2",
        outbox_backoff_max_seconds="0.5",
        outbox_max_attempts="3",
    )
    cli(env, "init")
    accounts = asyncio.run(seed(env, accounts=2))
    base = env["MAILBOX_PUBLIC_BASE_URL"]
    statuses: Counter[int] = Counter()
    with service(env):
        bearer = token(base)
        document = pdf()

        async def send() -> None:
            async with httpx.AsyncClient(base_url=base, timeout=60) as client:
                for n in range(20):
                    response = await dispatch(client, bearer, accounts[n % 2], document, n)
                    statuses[response.status_code] += 1

        asyncio.run(send())
        # 3 attempts with backoff <= 0.5 s: the budget is spent in about 2 s; wait 6 s.
        time.sleep(6)
        during = asyncio.run(counts_after_outage(env))
        health_during = httpx.get(f"{base}/healthz", timeout=5).json()
        sink = smtp_sink(smtp_port)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pending = asyncio.run(
                query(
                    env,
                    "SELECT count(*) FROM outbox WHERE kind = 'email.new_delivery' "
                    "AND status <> 'done'",
                )
            )[0][0]
            if pending == 0:
                break
            time.sleep(0.5)
        received = sink_count(sink)
        after = asyncio.run(counts_after_outage(env))
    return {
        "requests": sum(statuses.values()),
        "statuses": dict(statuses),
        "outage_seconds": 6,
        "during_outage": {**during, "health": health_during},
        "after_smtp_back": {**after, "alerts_received": received},
        "lost": 20 - received,
    }


async def counts_after_outage(env: dict[str, str]) -> dict[str, int]:
    ((dead,),) = await query(env, "SELECT count(*) FROM outbox WHERE status = 'dead'")
    ((paper,),) = await query(env, "SELECT count(*) FROM outbox WHERE kind = 'paper.job'")
    ((suspended,),) = await query(
        env, "SELECT count(*) FROM account WHERE edelivery_suspended_reason IS NOT NULL"
    )
    ((attempts,),) = await query(
        env, "SELECT coalesce(max(attempts), 0) FROM outbox WHERE kind = 'email.new_delivery'"
    )
    return {
        "dead": dead,
        "paper": paper,
        "suspended_accounts": suspended,
        "max_attempts_counted": attempts,
    }


def disk_full(tmp: Path, _args: argparse.Namespace) -> dict[str, Any]:
    if os.geteuid() != 0:
        return {"run": False, "why": "mounting a small tmpfs needs root"}
    blob_dir = tmp / "small-blobs"
    blob_dir.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(blob_dir)], check=True)
    try:
        port = free_port()
        env = make_env(tmp, port, blob_dir=str(blob_dir), scheduler_enabled="false")
        cli(env, "init")
        (account,) = asyncio.run(seed(env))
        base = env["MAILBOX_PUBLIC_BASE_URL"]
        statuses: Counter[int] = Counter()
        retry_after = set()
        with service(env):
            bearer = token(base)
            document = pdf(pad=400 * 1024)

            async def send() -> None:
                async with httpx.AsyncClient(base_url=base, timeout=60) as client:
                    for n in range(20):
                        response = await dispatch(client, bearer, account, document, n)
                        statuses[response.status_code] += 1
                        if response.status_code >= 500:
                            retry_after.add(response.headers.get("retry-after"))

            asyncio.run(send())
            ((deliveries,),) = asyncio.run(query(env, "SELECT count(*) FROM delivery"))
            blobs, temps = blob_files(blob_dir)
        return {
            "run": True,
            "requests": sum(statuses.values()),
            "statuses": dict(statuses),
            "retry_after": sorted(str(v) for v in retry_after),
            "deliveries_recorded": deliveries,
            "accepted": statuses[201],
            "lost": statuses[201] - deliveries,
            "blobs": blobs,
            "temporary_files_left": temps,
        }
    finally:
        subprocess.run(["umount", "-l", str(blob_dir)], check=False)


def kill_during_dispatch(tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    env = make_env(tmp, port, scheduler_enabled="false")
    cli(env, "init")
    (account,) = asyncio.run(seed(env))
    base = env["MAILBOX_PUBLIC_BASE_URL"]
    total, kills = 200, 8
    keys = [f"fault-{uuid.uuid4()}" for _ in range(total)]
    statuses: Counter[int | str] = Counter()
    document = pdf(pad=200 * 1024)
    process = start(env)
    bearer = token(base)
    done: set[int] = set()

    async def clients() -> None:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(total):
            queue.put_nowait(n)

        async def one(client: httpx.AsyncClient) -> None:
            while not queue.empty():
                n = queue.get_nowait()
                while True:
                    try:
                        response = await dispatch(client, bearer, account, document, n, keys[n])
                    except httpx.HTTPError:
                        statuses["connection error"] += 1
                        await asyncio.sleep(0.2)
                        continue
                    statuses[response.status_code] += 1
                    if response.status_code in (200, 201):
                        done.add(n)
                        break
                    await asyncio.sleep(0.2)

        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            await asyncio.gather(*(one(client) for _ in range(4)))

    async def killer() -> None:
        nonlocal process
        for _ in range(kills):
            await asyncio.sleep(1.5)
            kill(process)
            process = await asyncio.to_thread(start, env)

    async def both() -> None:
        await asyncio.gather(clients(), killer())

    try:
        asyncio.run(both())
    finally:
        stop(process)
    ((deliveries,),) = asyncio.run(query(env, "SELECT count(*) FROM delivery"))
    ((distinct,),) = asyncio.run(query(env, "SELECT count(DISTINCT dossier_number) FROM delivery"))
    blob_dir = tmp / "blobs"
    blobs_before, temps_before = blob_files(blob_dir)
    ((documents,),) = asyncio.run(query(env, "SELECT count(*) FROM document"))
    # As if the grace period (a day by default) had passed: every file two days old.
    two_days_ago = time.time() - 2 * 86400
    for path in blob_dir.rglob("*"):
        if path.is_file():
            os.utime(path, (two_days_ago, two_days_ago))
    sweep = cli(env, "blobs", "sweep", "--json", check=False)
    blobs_after, temps_after = blob_files(blob_dir)
    verify = cli(env, "audit", "verify", check=False)
    return {
        "requests": sum(statuses.values()),
        "statuses": {str(k): v for k, v in statuses.items()},
        "kills": kills,
        "documents_acknowledged": len(done),
        "deliveries_recorded": deliveries,
        "lost": total - distinct,
        "duplicated": deliveries - distinct,
        "blob_files_before_sweep": blobs_before,
        "document_rows": documents,
        "temporary_files_before_sweep": temps_before,
        "sweep": json.loads(sweep.stdout) if sweep.returncode == 0 else sweep.stderr[-300:],
        "blob_files_after_sweep": blobs_after,
        "temporary_files_after_sweep": temps_after,
        "audit_verify_exit": verify.returncode,
    }


def database_lost(tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    import asyncpg

    name = f"mailbox_fault_{uuid.uuid4().hex[:8]}"
    admin_url = args.postgres.replace("postgresql+asyncpg", "postgresql") + "/postgres"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(admin_url, timeout=5)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        port = free_port()
        env = make_env(tmp, port, database_url=f"{args.postgres}/{name}", scheduler_enabled="false")
        cli(env, "init")
        (account,) = asyncio.run(seed(env))
        base = env["MAILBOX_PUBLIC_BASE_URL"]
        total, terminations = 400, 10
        answers: dict[int, int | str] = {}
        with service(env):
            bearer = token(base)
            document = pdf()

            async def clients() -> None:
                queue = list(range(total))

                async def one(client: httpx.AsyncClient) -> None:
                    while queue:
                        n = queue.pop()
                        key = f"db-{n}" if n % 2 == 0 else None
                        try:
                            response = await dispatch(client, bearer, account, document, n, key)
                            answers[n] = response.status_code
                        except httpx.HTTPError as exc:
                            answers[n] = type(exc).__name__

                async with httpx.AsyncClient(base_url=base, timeout=60) as client:
                    await asyncio.gather(*(one(client) for _ in range(8)))

            async def terminator() -> None:
                for _ in range(terminations):
                    await asyncio.sleep(0.6)
                    await admin(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
                    )

            async def both() -> None:
                await asyncio.gather(clients(), terminator())

            asyncio.run(both())
        rows = asyncio.run(query(env, "SELECT dossier_number, count(*) FROM delivery GROUP BY 1"))
        recorded = {int(dossier[2:]): count for dossier, count in rows}
        errors_after_commit = [
            n for n, status in answers.items() if status != 201 and recorded.get(n)
        ]
        lost = [n for n, status in answers.items() if status == 201 and not recorded.get(n)]
        return {
            "requests": total,
            "terminations": terminations,
            "statuses": {str(k): v for k, v in Counter(answers.values()).items()},
            "lost": len(lost),
            "duplicated": sum(count - 1 for count in recorded.values()),
            "error_answered_after_commit": len(errors_after_commit),
        }
    finally:
        with contextlib.suppress(Exception):
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def two_workers_and_sigterm(tmp: Path, _args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    env = make_env(tmp, port)
    cli(env, "init")
    (account,) = asyncio.run(seed(env))
    base = env["MAILBOX_PUBLIC_BASE_URL"]
    worker_env = {**env, "MAILBOX_PORT": str(free_port())}
    first = start(worker_env, "worker")
    time.sleep(3)
    second = start(worker_env, "worker")
    try:
        second_exit = second.wait(timeout=30)
        second_said = log_tail(second, 2)
    except subprocess.TimeoutExpired:
        second_exit, second_said = None, ["still running after 30 s"]
    finally:
        stop(second)
        stop(first)

    server_env = {**env, "MAILBOX_SCHEDULER_ENABLED": "false"}
    server = start(server_env)
    bearer = token(base)
    document = pdf(pad=20 * 1024 * 1024)
    result: dict[str, Any] = {}

    async def in_flight() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:
            task = asyncio.create_task(dispatch(client, bearer, account, document, 1, "sigterm-1"))
            await asyncio.sleep(0.3)
            os.killpg(server.pid, signal.SIGTERM)
            sent = time.monotonic()
            try:
                response = await task
                result["in_flight_status"] = response.status_code
            except httpx.HTTPError as exc:
                result["in_flight_status"] = type(exc).__name__
            exit_code = await asyncio.to_thread(server.wait, 60)
            result["exit_code"] = exit_code
            result["seconds_to_exit"] = round(time.monotonic() - sent, 2)

    asyncio.run(in_flight())
    time.sleep(1)
    result["group_left_alive"] = group_alive(server.pid)
    stop(server)
    ((deliveries,),) = asyncio.run(query(env, "SELECT count(*) FROM delivery"))
    return {
        "second_worker_exit": second_exit,
        "second_worker_said": second_said,
        "sigterm": {**result, "deliveries_recorded": deliveries},
    }


RUNS = {
    "smtp_outage": smtp_outage,
    "disk_full": disk_full,
    "kill_during_dispatch": kill_during_dispatch,
    "database_lost": database_lost,
    "two_workers_and_sigterm": two_workers_and_sigterm,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", choices=sorted(RUNS), help="Runs to do (all).")
    parser.add_argument("--postgres", default=PG_DEFAULT, help="PostgreSQL server URL.")
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    for name in args.only or RUNS:
        with tempfile.TemporaryDirectory(prefix=f"mailbox-fault-{name}-") as tmp:
            started = time.monotonic()
            try:
                figures[name] = RUNS[name](Path(tmp), args)
            except Exception as exc:  # a run that breaks is a figure too, not the end
                figures[name] = {"error": f"{type(exc).__name__}: {exc}"[:1000]}
            figures[name]["seconds"] = round(time.monotonic() - started, 1)
        print(f"{name}: done", file=sys.stderr, flush=True)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
