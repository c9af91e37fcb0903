"""A hub's receipt and forwarding lose nothing and do nothing twice: a transmission sent by one
process is received and forwarded exactly once by another (the worker, started afresh), a
message handled twice (a crash between doing and recording) makes no second hop, no second
acknowledgement and no second pickup, and a failure of ours (a blob that cannot be read)
leaves the message waiting, never dead, until it can be done."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time

from sqlmodel import func, select

from mailbox.config import Settings
from mailbox.deliveries.pickup import record_handover
from mailbox.models import (
    EvidenceRecord,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    TransmissionHop,
)
from mailbox.notifications.outbox import drain_until_idle
from mailbox.services import Services
from mailbox.transmissions.channel import TransmissionChannel
from mailbox.transmissions.forwarding import hub_principal
from mailbox.transmissions.send import Sent, send_transmission
from mailbox.transmissions.status import load_view
from tests.fixtures.db import both_backends
from tests.fixtures.service_process import ROOT, clean_env, stop_process_group
from tests.transmissions import Route, make_route, package


async def _send(services: Services, route: Route) -> Sent:
    manifest, files = package(route.world.office.code, route.final.office.code)
    return await send_transmission(
        services,
        office_id=route.world.office.id,
        manifest=manifest,
        files=files,
        via=route.hub.office.code,
        actor=f"user:{route.world.dispatcher.id}",
    )


async def _count(services: Services, statement) -> int:
    async with services.db.session() as session:
        return (await session.exec(statement)).one()


async def _hops(services: Services, transmission_id: str) -> int:
    return await _count(
        services,
        select(func.count())
        .select_from(TransmissionHop)
        .where(TransmissionHop.transmission_id == transmission_id),
    )


async def _records(services: Services, delivery_id: str, kind: str) -> int:
    return await _count(
        services,
        select(func.count())
        .select_from(EvidenceRecord)
        .where(EvidenceRecord.delivery_id == delivery_id, EvidenceRecord.type == kind),
    )


async def _forward_message(services: Services) -> OutboxMessage:
    async with services.db.session() as session:
        return (
            await session.exec(
                select(OutboxMessage).where(
                    OutboxMessage.kind == OutboxKind.TRANSMISSION_FORWARD.value
                )
            )
        ).one()


def _worker(settings: Settings) -> subprocess.Popen:
    env = clean_env(
        data_dir=str(settings.data_dir),
        database_url=settings.effective_database_url,
        key_dir=str(settings.effective_key_dir),
        email_pickup_dir=str(settings.data_dir / "mail"),
        sealing_workers="0",
        outbox_interval_seconds="0.2",
        log_level="WARNING",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "mailbox", "worker"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@both_backends
async def test_a_fresh_worker_process_forwards_what_was_sent_exactly_once(
    services: Services, settings: Settings
) -> None:
    route = await make_route(services)
    sent = await _send(services, route)
    first_delivery = sent.view.hops[0].delivery.id

    worker = _worker(settings)
    try:
        deadline = time.monotonic() + 90
        while await _hops(services, sent.view.transmission.id) < 2:
            assert worker.poll() is None, worker.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the worker did not forward the transmission"
            await asyncio.sleep(0.2)
        await asyncio.sleep(1)  # a few more drain rounds: nothing else may happen
    finally:
        stop_process_group(worker)

    assert await _hops(services, sent.view.transmission.id) == 2
    assert await _records(services, first_delivery, "ReceiptAcknowledgement") == 1
    assert await _records(services, first_delivery, "ContentHandover") == 1
    assert (await _forward_message(services)).status == OutboxStatus.DONE


@both_backends
async def test_a_message_handled_twice_makes_no_second_hop_acknowledgement_or_pickup(
    services: Services,
) -> None:
    route = await make_route(services)
    sent = await _send(services, route)
    message = await _forward_message(services)
    channel = TransmissionChannel(services)

    first = await channel.handle([message], connections=None)
    again = await channel.handle([message], connections=None)

    assert first[message.id].outcome.ok and again[message.id].outcome.ok
    assert again[message.id].outcome.detail == "already received"
    delivery = sent.view.hops[0].delivery.id
    assert await _hops(services, sent.view.transmission.id) == 2
    assert await _records(services, delivery, "ReceiptAcknowledgement") == 1
    assert await _records(services, delivery, "ContentHandover") == 1
    assert await _records(services, delivery, "ContentAccess") == 0


async def test_a_crash_after_the_hub_took_the_package_is_finished_by_the_next_round(
    services: Services,
) -> None:
    route = await make_route(services)
    sent = await _send(services, route)
    view = sent.view
    # The hub's system took the package, then the process died before acknowledging it.
    await record_handover(
        services, hub_principal(route.hub.office), view.hops[0].delivery.id, view.package, ip=None
    )

    await drain_until_idle(services, worker_id="test", lanes=1)

    async with services.db.session() as session:
        after = await load_view(session=session, transmission_id=view.transmission.id)
    assert after is not None and [h.hop.status for h in after.hops] == ["forwarded", "delivered"]
    assert await _records(services, view.hops[0].delivery.id, "ContentHandover") == 1


async def test_an_unreadable_blob_of_ours_leaves_the_message_waiting_not_dead(
    services: Services,
) -> None:
    route = await make_route(services)
    sent = await _send(services, route)
    b = sent.view.documents[1].document.sealed_sha256
    blob = services.settings.effective_blob_dir / b[:2] / b[2:4] / b
    aside = blob.with_suffix(".aside")
    shutil.move(blob, aside)

    await drain_until_idle(services, worker_id="test", lanes=1, max_rounds=3)

    message = await _forward_message(services)
    assert message.status == OutboxStatus.PENDING and message.attempts == 0
    assert "hub receipt failed" in (message.last_error or "")
    assert await _hops(services, sent.view.transmission.id) == 1
    shutil.move(aside, blob)
    await TransmissionChannel(services).handle([message], connections=None)
    assert await _hops(services, sent.view.transmission.id) == 2
