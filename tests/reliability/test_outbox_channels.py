"""The drain hands each channel its own messages in one round: pending rows written before
the outbox was typed are still processed, and a message of a kind this version does not know
is given up without holding up the others."""

from __future__ import annotations

from sqlalchemy import insert

from mailbox.clock import now
from mailbox.ids import new_id
from mailbox.models import OutboxMessage
from mailbox.services import Services
from tests.factories import deliver, make_world
from tests.fixtures.db import both_backends
from tests.fixtures.smtp import SmtpServer
from tests.reliability.test_alerts import drain, outbox, reload


async def insert_rows(services: Services, *rows: dict) -> list[str]:
    """Outbox rows as an older version stored them: plain strings, written with SQL."""
    at = now()
    values = [
        {
            "id": new_id("msg"),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": at,
            "created_at": at,
            **row,
        }
        for row in rows
    ]
    async with services.db.write() as session:
        await session.execute(insert(OutboxMessage), values)
    return [v["id"] for v in values]


@both_backends
async def test_rows_written_before_the_upgrade_go_out_through_their_channels(
    services: Services, smtp_server: SmtpServer
) -> None:
    world = await make_world(services)
    delivery = await deliver(services, world)
    await drain(services)
    await smtp_server.wait_for(1)
    ids = {"delivery_id": delivery.id, "account_id": world.account.id}

    reminder, event, job = await insert_rows(
        services,
        {"kind": "email.reminder", "payload": {"event": "reminder"}, **ids},
        {
            "kind": "webhook.event",
            "payload": {"event_type": "delivery.available", "office_id": world.office.id},
            **ids,
        },
        {"kind": "paper.job", "payload": {"reason": "office policy"}, **ids},
    )
    [report] = await drain(services)

    # The paper job's delivery was never sent to paper: it needs no letter (skipped).
    assert (report.claimed, report.sent, report.completed, report.skipped) == (3, 1, 1, 1)
    [_, arrived] = await smtp_server.wait_for(2)
    assert arrived.message["Message-ID"] == f"<{reminder}@mailbox.test>"
    for outbox_id in (reminder, event, job):
        assert (await reload(services, OutboxMessage, outbox_id)).status == "done"


async def test_a_message_of_an_unknown_kind_is_dead_and_holds_up_nothing(
    services: Services, smtp_server: SmtpServer
) -> None:
    world = await make_world(services)
    [fax] = await insert_rows(services, {"kind": "fax.job", "payload": {}})
    await deliver(services, world)

    [report] = await drain(services)

    assert report.dead == 1 and report.sent == 1
    stored = await reload(services, OutboxMessage, fax)
    assert (stored.status, stored.last_error) == ("dead", "unknown outbox kind fax.job")
    [alert] = await outbox(services, "email.new_delivery")
    assert alert.status == "done"
