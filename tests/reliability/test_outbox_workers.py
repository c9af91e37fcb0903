"""Several outbox workers share the queue on PostgreSQL without sending a message twice; the
scheduler runs the drain and survives a failing job; `python -m mailbox worker` sends alerts
and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import select

from mailbox.models import OutboxMessage
from mailbox.notifications.outbox import drain_once
from mailbox.operations.scheduling import start_scheduler
from mailbox.services import Services
from tests.factories import deliver, make_world
from tests.fixtures.smtp import SmtpServer
from tests.reliability.test_alerts import outbox

ROOT = Path(__file__).resolve().parents[2]
ALERTS = 80


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_two_workers_share_the_queue_and_never_send_twice(
    services: Services, smtp_server: SmtpServer
) -> None:
    world = await make_world(services)
    delivery = await deliver(services, world)
    async with services.db.write() as session:
        session.add_all(
            OutboxMessage(
                kind="email.new_delivery",
                delivery_id=delivery.id,
                account_id=world.account.id,
                payload={"event": "available"},
            )
            for _ in range(ALERTS - 1)
        )
    other = Services.start(services.settings)  # a second instance: its own engine and pool
    try:
        rounds = []
        while True:
            a, b = await asyncio.gather(
                drain_once(services, worker_id="a", limit=ALERTS // 2),
                drain_once(other, worker_id="b", limit=ALERTS // 2),
            )
            if not a.claimed and not b.claimed:
                break
            rounds.append((a, b))
    finally:
        await other.close()

    first_a, first_b = rounds[0]
    assert first_a.claimed > 0 and first_b.claimed > 0
    arrived = await smtp_server.wait_for(ALERTS)
    per_message_id = Counter(m.message["Message-ID"] for m in arrived)
    assert len(per_message_id) == ALERTS and max(per_message_id.values()) == 1
    alerts = await outbox(services, "email.new_delivery")
    assert {m.status for m in alerts} == {"done"} and {m.attempts for m in alerts} == {1}
    assert sum(a.sent + b.sent for a, b in rounds) == ALERTS


async def test_scheduler_drains_and_survives_a_failing_job(
    services: Services,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = await make_world(services)
    await deliver(services, world)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("legal scan bug")

    monkeypatch.setattr("mailbox.operations.scheduling.run_legal_scans", broken)
    with caplog.at_level(logging.ERROR, logger="mailbox.operations.scheduling"):
        jobs = start_scheduler(services)
        scheduler = jobs.scheduler
        try:
            await smtp_server.wait_for(1)
            for _ in range(100):
                if any(r.getMessage() == "job failed" for r in caplog.records):
                    break
                await asyncio.sleep(0.01)
            assert scheduler.running
            assert scheduler.get_job("outbox-drain") is not None
        finally:
            await jobs.stop(grace=10)
    [failed] = [r for r in caplog.records if r.getMessage() == "job failed"]
    assert failed.job == "legal-scan" and failed.worker_id
    assert "legal scan bug" in failed.exc_text or failed.exc_info


async def test_worker_command_sends_alerts_and_stops_on_sigterm(
    services: Services, smtp_server: SmtpServer
) -> None:
    world = await make_world(services)
    await deliver(services, world)
    settings = services.settings
    env = {
        **os.environ,
        "MAILBOX_DATABASE_URL": settings.effective_database_url,
        "MAILBOX_KEY_DIR": str(settings.effective_key_dir),
        "MAILBOX_DATA_DIR": str(settings.data_dir),
        "MAILBOX_SMTP_HOST": smtp_server.host,
        "MAILBOX_SMTP_PORT": str(smtp_server.port),
        "MAILBOX_SMTP_SENDER": "Mailbox <no-reply@mailbox.test>",
        "MAILBOX_PUBLIC_BASE_URL": "http://mailbox.test",
        "MAILBOX_OUTBOX_INTERVAL_SECONDS": "0.2",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mailbox",
        "worker",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        [arrived] = await smtp_server.wait_for(1, timeout=30)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, stderr.decode()
    assert b"worker stopped" in stderr
    async with services.db.session() as session:
        [alert] = (
            await session.exec(
                select(OutboxMessage).where(OutboxMessage.kind == "email.new_delivery")
            )
        ).all()
    assert arrived.message["Message-ID"] == f"<{alert.id}@mailbox.test>"
