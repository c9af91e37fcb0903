"""Alert throughput of the outbox drain, held against a bare aiosmtplib loop sending the same
pre-rendered messages to the same server in the same run.

Run from the repository root:  python bench/notify.py [--alerts 10000] [--connections 4]

It sets up a throw-away install (SQLite, a local PKI in a temporary directory), queues N alert
rows directly (documents, deliveries and `email.new_delivery` outbox rows inserted in batches:
no dispatch, no sealing), starts a counting aiosmtpd server in a separate process
(bench/smtp_sink.py), and prints one JSON object:
- floor_one_connection / floor_same_connections: the bare loop (aiosmtplib `sendmail`, one
  connection, then as many as the drain uses) of the same messages rendered and written out
  beforehand: only sending is timed;
- drain: `drain_until_idle`, as the scheduler runs it (two lanes sharing smtp_connections),
  until the queue is empty. End to end it claims, composes and renders, sends, and records
  (status, NotificationForAcceptance evidence signed and timestamped, notified_at). Only this
  phase is timed: not the queueing, not the start-up;
- ratios of the drain's figures to the floors (the goal: alerts >= 80 % of the bare loop).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # our `mailbox`, not the standard-library module
if "mailbox" in sys.modules and not hasattr(sys.modules["mailbox"], "__path__"):
    del sys.modules["mailbox"]

import aiosmtplib  # noqa: E402

CHUNK = 1000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_sink(port: int) -> subprocess.Popen[str]:
    sink = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "smtp_sink.py"), "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout is not None
    if sink.stdout.readline().strip() != "ready":
        sink.kill()
        raise RuntimeError("the SMTP sink did not start")
    return sink


def stop_sink(sink: subprocess.Popen[str]) -> int:
    sink.send_signal(signal.SIGTERM)
    out, _ = sink.communicate(timeout=30)
    return int(json.loads(out)["received"])


async def queue_alerts(services: Any, count: int) -> None:
    """An office, an account with a verified address, and ``count`` available deliveries each
    with its pending alert, inserted in batches."""
    from sqlalchemy import insert

    from mailbox.clock import now
    from mailbox.identity.admin import add_verified_address, create_account, create_office
    from mailbox.ids import new_id
    from mailbox.models import Delivery, Document, OutboxMessage

    async with services.db.write() as session:
        office = await create_office(session=session, code="BENCH", name="Bench Patent Office")
        account = await create_account(
            session=session, name="Bench Applicant", postal_address="1 Bench Road", consent=True
        )
        await add_verified_address(session=session, account=account, email="a@bench.test")
    at = now()
    for start in range(0, count, CHUNK):
        documents, deliveries, alerts = [], [], []
        for n in range(start, min(start + CHUNK, count)):
            document_id, delivery_id = new_id("doc"), new_id("dlv")
            documents.append(
                {
                    "id": document_id,
                    "office_id": office.id,
                    "kind_code": "R71",
                    "dossier_number": f"EP{n:08d}.1",
                    "title": "Communication under Rule 71(3) EPC",
                    "filename": "notice.pdf",
                    "original_sha256": f"{n:064x}",
                    "sealed_sha256": f"{n + count:064x}",
                    "original_size": 1000,
                    "sealed_size": 9000,
                    "created_at": at,
                }
            )
            deliveries.append(
                {
                    "id": delivery_id,
                    "document_id": document_id,
                    "account_id": account.id,
                    "office_id": office.id,
                    "dossier_number": f"EP{n:08d}.1",
                    "status": "available",
                    "submitted_at": at,
                    "available_at": at,
                    "deemed_due_at": at + timedelta(days=10),
                    "reminders_sent": 0,
                }
            )
            alerts.append(
                {
                    "id": new_id("msg"),
                    "kind": "email.new_delivery",
                    "delivery_id": delivery_id,
                    "account_id": account.id,
                    "payload": {"event": "available"},
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": at,
                    "created_at": at,
                }
            )
        async with services.db.write() as session:
            await session.execute(insert(Document), documents)
            await session.execute(insert(Delivery), deliveries)
            await session.execute(insert(OutboxMessage), alerts)


async def prerender(services: Any) -> list[bytes]:
    """The messages the drain will send, composed by the same code, written out beforehand."""
    from sqlmodel import select

    from mailbox.clock import now
    from mailbox.models import OutboxMessage
    from mailbox.notifications.alerts import compose_emails
    from notifier.mime import to_bytes

    async with services.db.session() as session:
        messages = (await session.exec(select(OutboxMessage))).all()
        composed = await compose_emails(
            session=session, settings=services.settings, messages=messages, at=now()
        )
    sender = services.settings.smtp_sender
    return [to_bytes(sender, c.email) for c in composed.values() if c.email is not None]


async def bare_loop(port: int, sender: str, mimes: list[bytes], connections: int) -> dict:
    """aiosmtplib alone: ``connections`` connections, each sending its slice of the ready
    message bytes in a loop (``sendmail``)."""

    async def one(part: list[bytes]) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30)
        await client.connect()
        for raw in part:
            await client.sendmail(sender, ["a@bench.test"], raw)
        await client.quit()

    size = -(-len(mimes) // connections)
    started = time.perf_counter()
    await asyncio.gather(*(one(mimes[i : i + size]) for i in range(0, len(mimes), size)))
    elapsed = time.perf_counter() - started
    return {
        "connections": connections,
        "messages": len(mimes),
        "seconds": round(elapsed, 2),
        "per_second": round(len(mimes) / elapsed, 1),
    }


async def timed_drain(services: Any) -> dict:
    """Drain until the queue is empty, as the scheduler's job does."""
    from mailbox.notifications.outbox import drain_until_idle

    started = time.perf_counter()
    reports = await drain_until_idle(services, worker_id="bench", max_rounds=10_000)
    elapsed = time.perf_counter() - started
    sent = sum(r.sent for r in reports)
    return {
        "alerts": sent,
        "dead_or_retrying": sum(r.dead + r.retrying for r in reports),
        "rounds": len(reports),
        "seconds": round(elapsed, 2),
        "per_second": round(sent / elapsed, 1),
    }


async def run(settings: Any, alerts: int) -> dict:
    from mailbox.services import Services

    services = Services.start(settings, sealing_workers=0)
    try:
        started = time.perf_counter()
        await queue_alerts(services, alerts)
        queued = time.perf_counter() - started
        mimes = await prerender(services)
        sender, port = "no-reply@bench.test", settings.smtp_port
        floor_one = await bare_loop(port, sender, mimes, 1)
        drain = await timed_drain(services)
        floor_same = await bare_loop(port, sender, mimes, settings.smtp_connections)
    finally:
        await services.close()
    return {
        "queued": {"alerts": alerts, "seconds": round(queued, 2)},
        "floor_one_connection": floor_one,
        "floor_same_connections": floor_same,
        "drain": drain,
        "ratio_to_one_connection": round(drain["per_second"] / floor_one["per_second"], 3),
        "ratio_to_same_connections": round(drain["per_second"] / floor_same["per_second"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=None, help="Default: the setting.")
    parser.add_argument("--batch", type=int, default=None, help="Default: outbox_batch_size.")
    args = parser.parse_args()
    # SQLModel nags about session.execute() for the bulk inserts; the output is JSON only.
    warnings.filterwarnings("ignore", r"(?s).*session\.exec", DeprecationWarning)

    from mailbox.config import Settings
    from mailbox.operations.setup import initialise

    with tempfile.TemporaryDirectory(prefix="mailbox-bench-") as tmp:
        port = free_port()
        overrides: dict[str, Any] = {}
        if args.connections:
            overrides["smtp_connections"] = args.connections
        if args.batch:
            overrides["outbox_batch_size"] = args.batch
        settings = Settings(
            data_dir=Path(tmp) / "data",
            key_dir=Path(tmp) / "keys",
            public_base_url="https://mailbox.bench.test",
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_sender="Bench Mailbox <no-reply@bench.test>",
            sealing_workers=0,
            scheduler_enabled=False,
            **overrides,
        )
        initialise(settings)
        sink = start_sink(port)
        try:
            result = asyncio.run(run(settings, args.alerts))
        finally:
            received = stop_sink(sink)
    result["server_received"] = received
    result["measured"] = (
        "per_second = alerts / wall time of that phase only (not queueing, not start-up). "
        "drain: drain_until_idle as the scheduler runs it (two lanes sharing smtp_connections), "
        "rounds of outbox_batch_size on SQLite: claim, compose + render (Jinja2), send over "
        "SMTP, record (status, signed and RFC 3161-timestamped NotificationForAcceptance "
        "evidence, notified_at). floors: aiosmtplib sendmail of the same messages rendered and "
        "written out beforehand, nothing but SMTP. Same sink process, same run."
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
