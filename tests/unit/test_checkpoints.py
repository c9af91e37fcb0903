"""Signed checkpoints of the evidence log: one is the Merkle root of every record so far, signed
by the evidence key and timestamped; the scheduled job makes one only when records were added
and, on PostgreSQL, only in the instance holding the lock; a proof bundle takes the newest
checkpoint covering its records or makes one; nothing is proven or signed over a log that
changed since its newest checkpoint."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import func, text
from sqlmodel import col, select

from mailbox.db import try_advisory_lock
from mailbox.errors import EvidenceLogBroken
from mailbox.evidence import merkle
from mailbox.evidence.audit import check_checkpoint, check_log
from mailbox.evidence.checkpoints import (
    CHECKPOINT_LOCK,
    checkpoint_digest,
    inclusion_proofs,
    log_tree,
    make_checkpoint,
)
from mailbox.identity.principal import load_principal
from mailbox.models import EvidenceCheckpoint, EvidenceRecord
from mailbox.operations.scheduling import start_scheduler
from mailbox.proof.bundle import build_bundle
from mailbox.services import Services
from mailbox.signing.records import verify_record
from mailbox.signing.tsa import verify_timestamp_token
from tests.factories import World, deliver, make_world
from tests.fixtures.db import both_backends


async def _record_hashes(services: Services) -> list[bytes]:
    async with services.db.session() as session:
        hashes = await session.exec(
            select(EvidenceRecord.record_hash).order_by(col(EvidenceRecord.seq))
        )
        return [bytes.fromhex(h) for h in hashes.all()]


async def _checkpoint_count(services: Services) -> int:
    async with services.db.session() as session:
        return (await session.exec(select(func.count()).select_from(EvidenceCheckpoint))).one()


async def _delivered(services: Services, count: int) -> World:
    world = await make_world(services)
    for n in range(count):
        await deliver(services, world, dossier_number=f"EP{n}")
    return world


async def test_checkpoint_is_the_signed_timestamped_root_of_all_records(
    services: Services,
) -> None:
    await _delivered(services, 2)  # records 1 to 4

    checkpoint = await make_checkpoint(services)

    assert checkpoint is not None
    assert checkpoint.seq == 4
    assert checkpoint.root_hash == merkle.root(await _record_hashes(services)).hex()
    digest = checkpoint_digest(checkpoint)
    assert verify_record(services.keys.evidence_cert, digest, checkpoint.signature)
    stamped = verify_timestamp_token(
        checkpoint.timestamp_token, digest, trust_root=services.keys.root_cert
    )
    assert abs(stamped - checkpoint.created_at) < timedelta(minutes=1)
    async with services.db.session() as session:
        stored = await session.get(EvidenceCheckpoint, 4)
        # Read back in pages of one record, the tree is the same.
        tree = await log_tree(session=session, size=4, page=1)
    assert stored is not None and checkpoint_digest(stored) == digest
    assert tree.root().hex() == checkpoint.root_hash
    root = bytes.fromhex(checkpoint.root_hash)
    assert check_checkpoint(stored, root, services.keys) is None


@both_backends
async def test_checkpoint_job_makes_nothing_without_new_records(services: Services) -> None:
    world = await _delivered(services, 1)

    first = await make_checkpoint(services)
    again = await make_checkpoint(services)
    await deliver(services, world, dossier_number="EP-later")
    later = await make_checkpoint(services)
    last = await make_checkpoint(services)

    assert first is not None and first.seq == 2
    assert again is None
    assert later is not None and later.seq == 4
    assert last is None
    assert await _checkpoint_count(services) == 2
    async with services.db.session() as session:
        report = await check_log(session, services.keys)
    assert report.ok and report.checked == 4 and report.checkpoints_checked == 2


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.postgres
async def test_only_the_instance_holding_the_lock_makes_scheduled_checkpoints(
    services: Services,
) -> None:
    await _delivered(services, 1)

    async with services.db.session() as leader:
        assert await try_advisory_lock(leader, CHECKPOINT_LOCK)
        skipped = await make_checkpoint(services)
        on_demand = await make_checkpoint(services, leader_only=False)

    assert skipped is None
    assert on_demand is not None and on_demand.seq == 2


async def test_scheduler_runs_the_checkpoint_job_at_the_configured_interval(
    services: Services,
) -> None:
    services.settings = services.settings.model_copy(update={"checkpoint_interval_seconds": 900})
    jobs = start_scheduler(services)
    try:
        job = jobs.scheduler.get_job("checkpoint")
    finally:
        await jobs.stop(grace=10)

    assert job is not None
    assert job.trigger.interval == timedelta(seconds=900)


def _checkpoint_of(bundle: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        return json.loads(archive.read("checkpoint.json"))


async def test_bundle_takes_the_newest_covering_checkpoint_or_makes_one(
    services: Services,
) -> None:
    world = await make_world(services)
    early = await deliver(services, world, dossier_number="EP1")  # records 1, 2
    await make_checkpoint(services)
    late = await deliver(services, world, dossier_number="EP2")  # records 3, 4
    async with services.db.session() as session:
        # The office's auditor: a bundle that holds no document writes no record of its own.
        auditor = await load_principal(session, world.auditor.id)

    early_bundle = (await build_bundle(services, auditor, early.id)).content
    late_bundle = (await build_bundle(services, auditor, late.id)).content
    early_again = (await build_bundle(services, auditor, early.id)).content

    assert _checkpoint_of(early_bundle)["size"] == 2
    assert _checkpoint_of(late_bundle)["size"] == 4  # made on the fly
    assert _checkpoint_of(early_again)["size"] == 4  # the newest covering one
    assert await _checkpoint_count(services) == 2


async def test_nothing_is_proven_or_signed_over_a_log_that_changed_since_its_checkpoint(
    services: Services,
) -> None:
    world = await _delivered(services, 1)
    checkpoint = await make_checkpoint(services)
    assert checkpoint is not None
    async with services.db.session() as session:
        await session.execute(text(f"UPDATE evidence SET record_hash = '{'0' * 64}' WHERE seq = 1"))

    await deliver(services, world, dossier_number="EP-later")

    async with services.db.session() as session:
        with pytest.raises(EvidenceLogBroken, match="no longer have the Merkle root"):
            await inclusion_proofs(session=session, checkpoint=checkpoint, seqs=[2])
    with pytest.raises(EvidenceLogBroken, match="no longer have the Merkle root"):
        await make_checkpoint(services)  # never signs over a changed log
    assert await _checkpoint_count(services) == 1
    async with services.db.session() as session:
        await session.execute(text("DELETE FROM evidence WHERE seq = 1"))
        with pytest.raises(EvidenceLogBroken, match="record 1 is missing"):
            await log_tree(session=session, size=2)
