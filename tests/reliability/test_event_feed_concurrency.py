"""The event feed under concurrent writers: a reader that follows its cursor while two
writers append evidence (one of them holding its transaction open after taking its number)
sees every event exactly once, in log order, and never skips one that commits late."""

from __future__ import annotations

import asyncio
import random

import pytest

from mailbox.db import Database
from mailbox.evidence import log as evidence
from mailbox.evidence.log import EvidenceDraft, EvidenceType
from mailbox.identity.principal import Principal, load_principal
from mailbox.notifications.feed import cursors_for, read_page
from mailbox.services import Services
from tests.factories import deliver, make_world

ROUNDS = 40
PER_ROUND = 3  # records each writer appends per round
FAILURE = EvidenceDraft(EvidenceType.NOTIFICATION_FAILURE, "service", details={"reason": "test"})


HOLDING: set[int] = set()  # the numbers taken by transactions still open


async def _append(db: Database, services: Services, delivery_id: str, *, hold: float) -> None:
    """Append one record and keep the transaction open ``hold`` seconds after taking its
    number, as a slow use case would (its signing, its other writes, a slow network)."""
    async with db.write() as session:
        record = await evidence.append(session, services.evidence, FAILURE, delivery_id=delivery_id)
        HOLDING.add(record.seq)
        try:
            await asyncio.sleep(hold)
        finally:
            HOLDING.discard(record.seq)


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"], indirect=True
)
async def test_a_reader_never_skips_an_event_that_commits_late(
    services: Services, database_url: str
) -> None:
    world = await make_world(services)
    delivery = await deliver(services, world)
    async with services.db.session() as session:
        office: Principal = await load_principal(session, world.dispatcher.id)
    # Two writers and the reader, each with its own engine: as three processes would be. On
    # SQLite one process writes (its writers take turns on one engine's lock).
    slow_db, fast_db, reader_db = (Database(database_url) for _ in range(3))
    if slow_db.is_sqlite:
        fast_db = slow_db
    cursors = cursors_for(services.keys)
    rng = random.Random(11)
    seen: list[int] = []
    reads_while_writing = 0
    position, tag = 0, "0"

    reads_during_a_hold = 0

    async def read_once() -> None:
        # From here on every record is the office's event (the writers only append those).
        nonlocal position, tag, reads_during_a_hold
        reads_during_a_hold += bool(HOLDING)
        async with reader_db.session() as session:
            # Small pages and windows: the reader crosses many of their edges.
            page = await read_page(
                session=session,
                principal=office,
                cursors=cursors,
                after=position,
                tag=tag,
                limit=rng.choice((1, 2, 5, 50)),
                window=rng.choice((1, 3, 7, 5000)),
            )
        seqs = [e.seq for e in page.items]
        # Positions must follow on without a gap from wherever the reader stood.
        assert seqs == list(range(position + 1, position + 1 + len(seqs))), (position, seqs)
        seen.extend(seqs)
        position, tag = cursors.read(page.next_cursor)

    async def writer(db: Database, slow: bool) -> None:
        for _ in range(PER_ROUND):
            hold = rng.uniform(0.005, 0.04) if slow else 0.0
            await _append(db, services, delivery.id, hold=hold)

    async def reader(stop: asyncio.Event) -> None:
        nonlocal reads_while_writing
        while not stop.is_set():
            await read_once()
            reads_while_writing += 1
            await asyncio.sleep(rng.uniform(0, 0.01))

    async with reader_db.session() as session:  # the dispatch: acceptance (no event), consignment
        first = await read_page(
            session=session, principal=office, cursors=cursors, after=0, limit=50
        )
    seen.extend(e.seq for e in first.items)
    position, tag = cursors.read(first.next_cursor)
    try:

        async def all_rounds() -> None:
            for _ in range(ROUNDS):
                stop = asyncio.Event()
                watching = asyncio.create_task(reader(stop))
                await asyncio.gather(writer(slow_db, True), writer(fast_db, False))
                stop.set()
                await watching

        await asyncio.wait_for(all_rounds(), timeout=240)
        while True:  # what the last round left, page by page (a page may be of one event)
            before = len(seen)
            await read_once()
            if len(seen) == before:
                break
    finally:
        for db in {slow_db, fast_db, reader_db}:
            await db.dispose()

    async with services.db.session() as session:
        records = await evidence_positions(session, delivery.id)
    feed_records = [s for s, t in records if t in ("ContentConsignment", "NotificationFailure")]
    assert seen == feed_records  # every event once, in log order
    assert len(seen) == 1 + ROUNDS * 2 * PER_ROUND
    assert reads_while_writing >= ROUNDS  # the reader really read while the writers wrote
    assert reads_during_a_hold > 0  # ... and while a number was taken but not committed


async def evidence_positions(session, delivery_id: str) -> list[tuple[int, str]]:
    from sqlmodel import col, select

    from mailbox.models import EvidenceRecord

    rows = await session.exec(
        select(EvidenceRecord.seq, EvidenceRecord.type)
        .where(EvidenceRecord.delivery_id == delivery_id)
        .order_by(col(EvidenceRecord.seq))
    )
    return list(rows.all())
