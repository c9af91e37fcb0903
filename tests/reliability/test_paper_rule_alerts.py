"""The paper rule of failed alerts, against a real SMTP server: only the recipient's own
addresses failing for good send a document to paper (with the reason's code and sentence),
and only when every one of them fails; our mail server being down never does."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from mailbox import clock
from mailbox.deliveries.paper_rule import PaperReason, after_alerts_failed
from mailbox.identity.admin import add_verified_address
from mailbox.models import Account, Delivery, EvidenceRecord
from mailbox.notifications.outbox import DrainReport, drain_until_idle
from mailbox.services import Services
from tests.factories import deliver, make_world
from tests.fixtures.smtp import SmtpServer


async def drain(services: Services) -> list[DrainReport]:
    return await drain_until_idle(services, worker_id="paper-rule")


async def stored(services: Services, delivery_id: str) -> tuple[Delivery, list[EvidenceRecord]]:
    async with services.db.session() as session:
        delivery = await session.get(Delivery, delivery_id)
        records = (
            await session.exec(
                select(EvidenceRecord)
                .where(EvidenceRecord.delivery_id == delivery_id)
                .order_by(col(EvidenceRecord.seq))
            )
        ).all()
    assert delivery is not None
    return delivery, list(records)


async def test_a_permanent_refusal_of_the_recipients_address_ends_in_paper_with_its_reason(
    services: Services, smtp_server: SmtpServer
) -> None:
    world = await make_world(services, email="gone@example.com")
    smtp_server.reject_recipients("gone@example.com", code=550)
    first = await deliver(services, world)

    await drain(services)
    later = await deliver(services, world, title="Next notice")

    delivery, records = await stored(services, first.id)
    assert (delivery.status, delivery.paper_reason_code) == ("paper_queued", "alerts_failed")
    assert delivery.paper_reason == after_alerts_failed().sentence
    failure, relay = records[-2:]
    assert failure.type == "NotificationFailure" and "550" in failure.details["reason"]
    assert relay.type == "RelayToNonERDS"
    assert relay.details == {"reason_code": "alerts_failed", "reason": delivery.paper_reason}
    # The account stays suspended: the next dispatch goes on paper straight away.
    next_one, next_records = await stored(services, later.id)
    assert next_one.status == "paper_queued" and next_one.available_at is None
    assert next_records[-1].details["reason_code"] == PaperReason.ALERTS_FAILED


async def test_one_address_refused_while_another_accepts_keeps_delivery_electronic(
    services: Services, smtp_server: SmtpServer
) -> None:
    world = await make_world(services, email="gone@example.com")
    async with services.db.write() as session:
        account = await session.get(Account, world.account.id)
        await add_verified_address(session=session, account=account, email="here@example.com")
    smtp_server.reject_recipients("gone@example.com", code=550)
    delivery = await deliver(services, world)

    await drain(services)

    [arrived] = await smtp_server.wait_for(1)
    assert arrived.rcpt_tos == ("here@example.com",)
    now_stored, records = await stored(services, delivery.id)
    assert now_stored.status == "available" and now_stored.paper_reason_code is None
    assert "RelayToNonERDS" not in {r.type for r in records}


async def test_our_smtp_server_down_past_the_retry_budget_sends_nothing_to_paper(
    services: Services, smtp_server: SmtpServer
) -> None:
    world = await make_world(services)
    delivery = await deliver(services, world)
    smtp_server.stop()

    step = services.settings.outbox_backoff_max_seconds
    for n in range(3 * services.settings.outbox_max_attempts + 1):
        clock.set_offset(timedelta(seconds=n * step))
        await drain(services)

    now_stored, records = await stored(services, delivery.id)
    assert now_stored.status == "available" and now_stored.paper_queued_at is None
    assert not {"NotificationFailure", "RelayToNonERDS"} & {r.type for r in records}
    async with services.db.session() as session:
        account = await session.get(Account, world.account.id)
    assert account is not None and account.edelivery_suspended_reason is None
