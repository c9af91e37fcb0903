"""Our faults never count against a recipient: our mail server or our disk failing, however
long, makes alerts wait (and operators know); it never kills them, never sends a document to
paper, never suspends an account. A recipient's own refusal still does."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from mailbox import clock
from mailbox.models import Account, Channel, Delivery, EvidenceRecord, OutboxMessage
from mailbox.notifications.outbox import DrainReport, drain_until_idle
from mailbox.services import Services
from tests.factories import deliver, make_world
from tests.fixtures.db import both_backends
from tests.fixtures.smtp import SmtpServer

WORKER = "test-worker"
ALERT = "email.new_delivery"


async def drain(services: Services) -> list[DrainReport]:
    return await drain_until_idle(services, worker_id=WORKER)


async def all_rows(services: Services, model: type) -> list:
    async with services.db.session() as session:
        return list((await session.exec(select(model))).all())


async def alerts(services: Services) -> list[OutboxMessage]:
    return [m for m in await all_rows(services, OutboxMessage) if m.kind == ALERT]


async def assert_nothing_counted_against_recipients(services: Services) -> None:
    messages = await all_rows(services, OutboxMessage)
    assert [m for m in messages if m.status == "dead"] == []
    assert [m for m in messages if m.kind == "paper.job"] == []
    assert {m.attempts for m in messages if m.kind == ALERT} == {0}
    evidence = {r.type for r in await all_rows(services, EvidenceRecord)}
    assert not evidence & {"NotificationFailure", "RelayToNonERDS"}
    assert {d.status for d in await all_rows(services, Delivery)} == {"available"}
    assert {a.edelivery_suspended_reason for a in await all_rows(services, Account)} == {None}


@both_backends
async def test_smtp_down_longer_than_the_retry_budget_loses_no_alert_and_suspends_no_one(
    services: Services, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mailbox.circuits")
    worlds = [await make_world(services, email=f"applicant{n}@example.com") for n in (1, 2)]
    deliveries = [
        await deliver(services, world, dossier_number=f"EP{n}") for world in worlds for n in (1, 2)
    ]
    smtp_server.stop()
    step = services.settings.outbox_backoff_max_seconds

    [first] = await drain(services)
    assert (first.retrying, first.dead) == (4, 0)
    assert services.circuits[Channel.EMAIL].health().startswith("open since")
    assert await drain(services) == []  # the circuit is open: nothing is claimed
    for n in range(1, 3 * services.settings.outbox_max_attempts + 1):
        clock.set_offset(timedelta(seconds=n * step))
        reports = await drain(services)
        assert [r.claimed for r in reports] == [1]  # one probe a round, no more

    await assert_nothing_counted_against_recipients(services)
    down = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(down) == 1 and "SMTPConnectError" in down[0].getMessage()
    assert "@" not in down[0].getMessage()

    smtp_server.start()
    clock.set_offset(timedelta(seconds=(3 * services.settings.outbox_max_attempts + 1) * step))
    await drain(services)

    arrived = await smtp_server.wait_for(4)
    ids = Counter(m.message["Message-ID"] for m in arrived)
    assert set(ids) == {f"<{m.id}@mailbox.test>" for m in await alerts(services)}
    assert max(ids.values()) == 1
    assert {(m.status, m.attempts) for m in await alerts(services)} == {("done", 1)}
    notified = Counter(
        record.delivery_id
        for record in await all_rows(services, EvidenceRecord)
        if record.type == "NotificationForAcceptance"
    )
    assert notified == Counter(d.id for d in deliveries)
    assert services.circuits[Channel.EMAIL].health() == "ok"
    assert [r.levelno for r in caplog.records if "works again" in r.getMessage()] == [
        logging.WARNING
    ]
    await drain(services)
    assert len(smtp_server.messages) == 4  # nothing sent twice


async def test_a_recipient_refusal_during_our_outage_still_counts_once_we_are_back(
    services: Services, smtp_server: SmtpServer
) -> None:
    world = await make_world(services)
    smtp_server.stop()
    delivery = await deliver(services, world)
    for n in range(3 * services.settings.outbox_max_attempts):
        clock.set_offset(timedelta(seconds=n * services.settings.outbox_backoff_max_seconds))
        await drain(services)
    [alert] = await alerts(services)
    assert (alert.status, alert.attempts) == ("pending", 0)

    smtp_server.reject_recipients("applicant@example.com", code=550)
    smtp_server.start()
    clock.set_offset(timedelta(days=1))
    await drain(services)

    [alert] = await alerts(services)
    assert alert.status == "dead" and "550" in alert.last_error
    stored = await all_rows(services, Delivery)
    assert [d.status for d in stored if d.id == delivery.id] == ["paper_queued"]


async def test_an_unwritable_pickup_directory_makes_alerts_wait(
    services: Services, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("in the way")
    local = Services.start(
        services.settings.model_copy(update={"email_pickup_dir": blocker / "outgoing"})
    )
    try:
        world = await make_world(local)
        await deliver(local, world)
        for n in range(3 * local.settings.outbox_max_attempts):
            clock.set_offset(timedelta(seconds=n * local.settings.outbox_backoff_max_seconds))
            await drain(local)
        await assert_nothing_counted_against_recipients(local)
        assert "pickup directory" in local.circuits[Channel.EMAIL].health()

        blocker.unlink()
        blocker.mkdir()
        clock.set_offset(timedelta(days=1))
        await drain(local)

        [alert] = await alerts(local)
        assert alert.status == "done"
        assert [p.suffix for p in (blocker / "outgoing").iterdir()] == [".eml"]
    finally:
        await local.close()
