"""The legal clock's scans: reminders on their days, deemed delivery on its deadline and the
daily digest, each exactly once however often the scans run."""

from __future__ import annotations

from datetime import timedelta

from mailbox import clock
from mailbox.deliveries.scans import run_legal_scans
from mailbox.models import Account, Delivery
from mailbox.notifications.digests import queue_digests
from mailbox.services import Services
from tests.factories import deliver, make_world
from tests.fixtures.db import both_backends
from tests.fixtures.smtp import SmtpServer
from tests.reliability.test_alerts import drain, evidence_of, outbox, reload

MINUTE = timedelta(minutes=1)


def subjects(smtp_server: SmtpServer) -> list[str]:
    return [m.message["Subject"] for m in smtp_server.messages]


@both_backends
async def test_reminders_after_three_and_seven_days_exactly_once_each(
    services: Services, smtp_server: SmtpServer
) -> None:
    world = await make_world(services, deemed_days=10)
    delivery = await deliver(services, world)
    await drain(services)

    for day in (1, 3, 3, 5, 7, 7, 8, 9):
        clock.set_offset(timedelta(days=day) + MINUTE)
        await run_legal_scans(services)
        await run_legal_scans(services)
        await drain(services)

    reminders = [s for s in subjects(smtp_server) if s.startswith("Reminder:")]
    assert len(reminders) == 2
    stored = await reload(services, Delivery, delivery.id)
    assert stored.reminders_sent == 2 and stored.status == "available"
    assert len(await outbox(services, "email.reminder")) == 2


async def test_reminders_stop_once_the_document_is_picked_up(
    services: Services, smtp_server: SmtpServer
) -> None:
    world = await make_world(services)
    delivery = await deliver(services, world)
    clock.set_offset(timedelta(days=3) + MINUTE)
    await run_legal_scans(services)
    async with services.db.write() as session:
        stored = await session.get(Delivery, delivery.id)
        stored.status = "picked_up"  # picked up before the reminder left
        session.add(stored)

    reports = await drain(services)

    assert sum(r.skipped for r in reports) == 1
    assert not [s for s in subjects(smtp_server) if s.startswith("Reminder:")]


async def test_account_schedule_overrides_the_service_reminder_days(
    services: Services, smtp_server: SmtpServer
) -> None:
    world = await make_world(services)
    async with services.db.write() as session:
        account = await session.get(Account, world.account.id)
        account.reminder_days = [1]
        session.add(account)
    await deliver(services, world)

    for day in (1, 3, 7):
        clock.set_offset(timedelta(days=day) + MINUTE)
        await run_legal_scans(services)

    assert len(await outbox(services, "email.reminder")) == 1


@both_backends
async def test_deemed_delivery_happens_once_with_evidence_and_alert(
    services: Services, smtp_server: SmtpServer
) -> None:
    world = await make_world(services, deemed_days=10)
    delivery = await deliver(services, world, dossier_number="EP9")
    await drain(services)
    clock.set_offset(timedelta(days=10) - MINUTE)
    assert (await run_legal_scans(services)).deemed_delivered == 0

    clock.set_offset(timedelta(days=10) + MINUTE)
    first = await run_legal_scans(services)
    second = await run_legal_scans(services)
    await drain(services)

    assert (first.deemed_delivered, second.deemed_delivered) == (1, 0)
    stored = await reload(services, Delivery, delivery.id)
    assert stored.status == "deemed_delivered"
    assert stored.deemed_delivered_at == stored.deemed_due_at
    types = [r.type for r in await evidence_of(services, delivery.id)]
    assert types.count("DeemedDelivery") == 1
    deemed = [s for s in subjects(smtp_server) if s.startswith("Document deemed delivered")]
    assert deemed == ["Document deemed delivered: R71, EP9"]
    assert not [s for s in subjects(smtp_server) if s.startswith("Reminder:")]
    events = [m.payload["event_type"] for m in await outbox(services, "webhook.event")]
    assert events == ["delivery.available", "delivery.deemed_delivered"]


async def test_deemed_delivery_catches_up_after_downtime(services: Services) -> None:
    world = await make_world(services, deemed_days=2)
    deliveries = [await deliver(services, world, dossier_number=f"EP{n}") for n in range(3)]

    clock.set_offset(timedelta(days=30))  # the service was down for a month
    report = await run_legal_scans(services, batch=2)

    assert report.deemed_delivered == 3
    for delivery in deliveries:
        assert (await reload(services, Delivery, delivery.id)).status == "deemed_delivered"


async def test_daily_digest_lists_new_documents_once_a_day(
    services: Services, smtp_server: SmtpServer
) -> None:
    world = await make_world(services)
    async with services.db.write() as session:
        account = await session.get(Account, world.account.id)
        account.notify_mode = "digest"
        session.add(account)
    first = await deliver(services, world, dossier_number="EP1")
    second = await deliver(services, world, dossier_number="EP2")
    await drain(services)
    assert smtp_server.messages == []  # digest mode: no alert per document

    assert await queue_digests(services) == 1
    assert await queue_digests(services) == 0
    await drain(services)

    [digest] = smtp_server.messages
    assert digest.message["Subject"] == "2 new documents in your secure mailbox"
    text = digest.message.get_body(("plain",)).get_content()
    assert "EP1" in text and "EP2" in text
    for delivery in (first, second):
        types = [r.type for r in await evidence_of(services, delivery.id)]
        assert types[-1] == "NotificationForAcceptance"

    third = await deliver(services, world, dossier_number="EP3")
    assert await queue_digests(services) == 0  # today's digest went out already
    clock.set_offset(timedelta(days=1))
    assert await queue_digests(services) == 1
    [row] = [m for m in await outbox(services, "email.digest") if m.status == "pending"]
    assert row.payload == {"delivery_ids": [third.id]}
