"""A bulk dispatch survives its worker being killed: the next worker resumes where it was and
no item is served twice (the office reference is each item's Idempotency-Key)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

from sqlmodel import func, select

from mailbox.config import Settings
from mailbox.deliveries.batches import batch_now
from mailbox.models import BatchStatus, Delivery, DispatchBatchItem, IdempotencyRecord
from mailbox.services import Services
from tests.batches import queue_batch, rows_for
from tests.factories import make_world
from tests.fixtures.db import both_backends
from tests.fixtures.service_process import ROOT, clean_env, stop_process_group

ITEMS = 60


def _worker(settings: Settings) -> subprocess.Popen:
    env = clean_env(
        data_dir=str(settings.data_dir),
        database_url=settings.effective_database_url,
        key_dir=str(settings.effective_key_dir),
        email_pickup_dir=str(settings.data_dir / "mail"),
        sealing_workers="1",
        batch_chunk_size="10",
        batch_lease_seconds="2",
        batch_interval_seconds="0.2",
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


async def _count(services: Services, statement) -> int:
    async with services.db.session() as session:
        return (await session.exec(statement)).one()


async def _batch(services: Services, batch_id: str):
    async with services.db.session() as session:
        return await batch_now(session=session, batch_id=batch_id)


async def _until(services: Services, batch_id: str, done, timeout: float, worker) -> None:
    deadline = time.monotonic() + timeout
    while not done(await _batch(services, batch_id)):
        assert worker.poll() is None, worker.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, await _batch(services, batch_id)
        await asyncio.sleep(0.1)


@both_backends
async def test_a_batch_killed_midway_resumes_and_serves_each_item_once(
    services: Services, settings: Settings
) -> None:
    world = await make_world(services)
    rows = rows_for(world.account.id, ITEMS)
    batch_id = await queue_batch(services, world.office.id, rows, actor="user:test")

    first = _worker(settings)
    try:
        await _until(services, batch_id, lambda b: b.accepted >= 20, 120, first)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # no goodbye: mid-chunk, mid-seal
        first.wait()
    stopped_at = (await _batch(services, batch_id)).accepted
    assert stopped_at < ITEMS

    second = _worker(settings)
    try:
        await _until(services, batch_id, lambda b: b.status == BatchStatus.DONE, 180, second)
    finally:
        stop_process_group(second)

    batch = await _batch(services, batch_id)
    assert (batch.accepted, batch.refused, batch.pending) == (ITEMS, 0, 0)
    assert await _count(services, select(func.count()).select_from(Delivery)) == ITEMS
    assert await _count(services, select(func.count()).select_from(IdempotencyRecord)) == ITEMS
    distinct = select(func.count(func.distinct(DispatchBatchItem.delivery_id)))
    assert await _count(services, distinct) == ITEMS
    assert not (settings.data_dir / "batches" / batch_id).exists()
