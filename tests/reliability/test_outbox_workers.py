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
from mailbox.operations.scheduling import SchedulerTaken, start_scheduler
from mailbox.services import Services
from tests.factories import deliver, make_world
from tests.fixtures.smtp import SmtpServer, WebhookReceiver
from tests.reliability.test_alerts import outbox
from tests.reliability.test_webhooks import attempts, subscribe

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


async def test_stopping_the_scheduler_lets_the_send_in_progress_finish_and_be_recorded(
    services: Services, webhook_receiver: WebhookReceiver
) -> None:
    world = await make_world(services)
    await subscribe(services, world, webhook_receiver.url)
    webhook_receiver.respond_with(204, delay=1.0)  # the receiver takes its time
    await deliver(services, world)

    jobs = start_scheduler(services)
    for _ in range(500):
        if webhook_receiver.requests:
            break
        await asyncio.sleep(0.01)
    assert webhook_receiver.requests, "the drain never posted the webhook"
    await jobs.stop(grace=10)  # asked to stop while the POST waits for its answer

    webhooks = await outbox(services, "webhook.delivery")
    assert [(m.status, m.claimed_until) for m in webhooks] == [("done", None)]
    assert [a.ok for a in await attempts(services)] == [True]
    assert not jobs.scheduler.running


async def test_one_process_at_a_time_holds_a_sqlite_database_s_scheduler(
    services: Services,
) -> None:
    first = start_scheduler(services)
    try:
        with pytest.raises(SchedulerTaken, match=r"already runs in .*:\d+"):
            start_scheduler(services)  # another open of the lock file: refused, like a process
    finally:
        await first.stop(grace=10)
    second = start_scheduler(services)  # let go: the next one takes it
    await second.stop(grace=10)
