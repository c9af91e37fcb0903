"""Alert emails: what arrives, in which language, with what evidence; and that an SMTP outage,
a crashed worker or a hard bounce never loses an alert nor sends it twice."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlmodel import col, select

from mailbox import clock
from mailbox.models import Account, Delivery, EvidenceRecord, OutboxMessage
from mailbox.notifications.outbox import DrainReport, drain_once, drain_until_idle
from mailbox.services import Services
from mailbox.timefmt import human
from tests.factories import deliver, make_world
from tests.fixtures.db import both_backends
from tests.fixtures.smtp import SmtpServer
from tests.unit.test_audit_verify import _verify as audit_verify

WORKER = "test-worker"


async def drain(services: Services) -> list[DrainReport]:
    return await drain_until_idle(services, worker_id=WORKER)


async def evidence_of(services: Services, delivery_id: str) -> list[EvidenceRecord]:
    async with services.db.session() as session:
        rows = await session.exec(
            select(EvidenceRecord)
            .where(EvidenceRecord.delivery_id == delivery_id)
            .order_by(col(EvidenceRecord.seq))
        )
        return list(rows.all())


async def outbox(services: Services, kind: str) -> list[OutboxMessage]:
    async with services.db.session() as session:
        rows = await session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.kind == kind)
            .order_by(col(OutboxMessage.created_at))
        )
        return list(rows.all())


async def reload(services: Services, model: type, row_id: str):
    async with services.db.session() as session:
        return await session.get(model, row_id)


@both_backends
async def test_alert_arrives_with_link_and_metadata_but_no_document(
    services: Services, smtp_server: SmtpServer
) -> None:
    world = await make_world(services)
    delivery = await deliver(services, world, dossier_number="EP24111222.3", title="Hinge")

    await drain(services)

    [arrived] = await smtp_server.wait_for(1)
    [alert] = await outbox(services, "email.new_delivery")
    mail = arrived.message
    assert arrived.rcpt_tos == ("applicant@example.com",)
    assert mail["Message-ID"] == f"<{alert.id}@mailbox.test>"
    assert mail["Subject"] == f"New document from {world.office.name}: R71, EP24111222.3"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    for body in (text, html):
        assert f"http://mailbox.test/deliveries/{delivery.id}" in body
        assert world.office.name in body and "EP24111222.3" in body and "Hinge" in body
        assert delivery.available_at.strftime("%d %B %Y, %H:%M UTC") in body
    assert [part.get_content_type() for part in mail.iter_parts()] == ["text/plain", "text/html"]
    assert b"%PDF" not in arrived.raw and b"application/pdf" not in arrived.raw
    assert alert.status == "done" and alert.done_at is not None


async def test_french_account_gets_french_alert(
    services: Services, smtp_server: SmtpServer
) -> None:
    world = await make_world(services, language="fr")
    delivery = await deliver(services, world)

    await drain(services)

    [arrived] = await smtp_server.wait_for(1)
    assert arrived.message["Subject"].startswith(f"Nouveau document de {world.office.name}")
    text = arrived.message.get_body(("plain",)).get_content()
    assert "Mis à disposition le" in text
    assert human(delivery.available_at, language="fr") in text  # the month in French


async def test_accepted_alert_is_recorded_as_notification_evidence(
    services: Services, smtp_server: SmtpServer
) -> None:
    world = await make_world(services)
    delivery = await deliver(services, world)

    await drain(services)

    records = await evidence_of(services, delivery.id)
    assert [r.type for r in records] == [
        "SubmissionAcceptance",
        "ContentConsignment",
        "NotificationForAcceptance",
    ]
    [alert] = await outbox(services, "email.new_delivery")
    assert records[-1].details == {
        "outbox_id": alert.id,
        "kind": "email.new_delivery",
        "recipients": 1,
        "message_id": f"<{alert.id}@mailbox.test>",
    }
    stored = await reload(services, Delivery, delivery.id)
    assert stored.notified_at == records[-1].occurred_at


async def test_alerts_wait_out_an_smtp_outage_none_lost_none_twice(
    services: Services, smtp_server: SmtpServer
) -> None:
    world = await make_world(services)
    smtp_server.stop()
    for n in range(3):
        await deliver(services, world, dossier_number=f"EP{n}")

    [report] = await drain(services)
    assert (report.retrying, report.sent) == (3, 0)
    # Our mail server's fault: tried, but the attempt is given back (it counts for no one).
    assert all(
        m.attempts == 0 and m.last_error for m in await outbox(services, "email.new_delivery")
    )
    assert await drain(services) == []  # not due yet: nothing is hammered

    smtp_server.start()
    clock.set_offset(timedelta(seconds=services.settings.outbox_backoff_seconds + 1))
    await drain(services)
    await drain(services)

    arrived = await smtp_server.wait_for(3)
    ids = Counter(m.message["Message-ID"] for m in arrived)
    alerts = await outbox(services, "email.new_delivery")
    assert set(ids) == {f"<{m.id}@mailbox.test>" for m in alerts}
    assert max(ids.values()) == 1
    assert {m.status for m in alerts} == {"done"}


async def test_crash_after_sending_resends_with_the_same_message_id(
    services: Services, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await make_world(services)
    await deliver(services, world)

    async def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("worker killed between sending and recording")

    monkeypatch.setattr("mailbox.notifications.outbox._record", crash)
    with pytest.raises(RuntimeError):
        await drain_once(services, worker_id="doomed")
    monkeypatch.undo()
    assert await drain(services) == []  # the dead worker's lease still holds

    clock.set_offset(timedelta(seconds=services.settings.outbox_lease_seconds + 1))
    [report] = await drain(services)

    assert report.reclaimed == 2 and report.sent == 1  # the alert and its webhook event
    first, second = await smtp_server.wait_for(2)
    assert first.message["Message-ID"] == second.message["Message-ID"]
    [alert] = await outbox(services, "email.new_delivery")
    assert alert.status == "done" and alert.attempts == 2


async def _assert_relayed_to_paper(services: Services, delivery_id: str, account_id: str) -> None:
    stored = await reload(services, Delivery, delivery_id)
    assert stored.status == "paper_queued"
    assert stored.paper_reason_code == "alerts_failed"
    assert stored.paper_reason.startswith("Sent by post: the alert about this document")
    types = [r.type for r in await evidence_of(services, delivery_id)]
    assert types[-2:] == ["NotificationFailure", "RelayToNonERDS"]
    account = await reload(services, Account, account_id)
    assert account.edelivery_suspended_reason.startswith("notifications fail permanently")
    [job] = await outbox(services, "paper.job")
    assert job.delivery_id == delivery_id
    events = [m.payload["event_type"] for m in await outbox(services, "webhook.event")]
    assert events == ["delivery.available", "delivery.notification_failed", "delivery.paper_queued"]


async def test_hard_bounce_sends_the_document_to_paper(
    services: Services, smtp_server: SmtpServer
) -> None:
    world = await make_world(services)
    smtp_server.reject_recipients("applicant@example.com", code=550)
    delivery = await deliver(services, world)

    reports = await drain(services)

    assert reports[0].dead == 1 and reports[0].relayed_to_paper == 1
    [alert] = await outbox(services, "email.new_delivery")
    assert alert.status == "dead" and "550" in alert.last_error
    failure = (await evidence_of(services, delivery.id))[-2]
    assert failure.details["outbox_id"] == alert.id and "550" in failure.details["reason"]
    await _assert_relayed_to_paper(services, delivery.id, world.account.id)
    code, report = await audit_verify(services)
    assert (code, report["ok"]) == (0, True)


async def test_spent_retry_budget_sends_the_document_to_paper(
    services: Services, smtp_server: SmtpServer
) -> None:
    world = await make_world(services)
    smtp_server.fail_temporarily(100)
    delivery = await deliver(services, world)

    for attempt in range(1, services.settings.outbox_max_attempts + 1):
        clock.set_offset(timedelta(seconds=attempt * services.settings.outbox_backoff_max_seconds))
        await drain(services)

    [alert] = await outbox(services, "email.new_delivery")
    assert alert.status == "dead" and alert.attempts == services.settings.outbox_max_attempts
    assert alert.last_error.startswith("retry budget spent (3 attempts)")
    await _assert_relayed_to_paper(services, delivery.id, world.account.id)
    assert smtp_server.messages == []


async def test_account_without_verified_address_goes_to_paper(
    services: Services, smtp_server: SmtpServer
) -> None:
    world = await make_world(services)
    delivery = await deliver(services, world)
    async with services.db.write() as session:
        from mailbox.models import NotificationAddress

        for address in (
            await session.exec(
                select(NotificationAddress).where(
                    NotificationAddress.account_id == world.account.id
                )
            )
        ).all():
            address.verified_at = None
            session.add(address)

    await drain(services)

    [alert] = await outbox(services, "email.new_delivery")
    assert alert.last_error == "the account has no verified notification address"
    await _assert_relayed_to_paper(services, delivery.id, world.account.id)


async def test_an_email_that_cannot_be_composed_waits_without_holding_up_the_others(
    services: Services, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mailbox.notifications.alerts

    world = await make_world(services)
    broken = await deliver(services, world, dossier_number="EP-BROKEN")
    await deliver(services, world, dossier_number="EP-FINE")
    compose = mailbox.notifications.alerts._compose

    def failing(message, *args):  # a template bug that hits one message only
        if message.delivery_id == broken.id:
            raise RuntimeError("template bug")
        return compose(message, *args)

    monkeypatch.setattr(mailbox.notifications.alerts, "_compose", failing)

    await drain(services)

    [arrived] = await smtp_server.wait_for(1)
    assert "EP-FINE" in arrived.message["Subject"]
    alerts = {m.delivery_id: m for m in await outbox(services, "email.new_delivery")}
    assert alerts[broken.id].status == "pending"
    assert alerts[broken.id].last_error == "not composed (see the log)"
