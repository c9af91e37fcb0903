"""Signed checkpoints of the evidence log: the Merkle root (RFC 6962,
:mod:`mailbox.evidence.merkle`) of
the log's first ``seq`` records, signed by the evidence key and timestamped (RFC 3161), so that an
auditor holding a checkpoint can check that a record was in the log at the checkpoint's time
(the inclusion proofs of a proof bundle) and ``audit verify`` can check that the log still has
the records it had then. A new checkpoint is signed only if the log still passes through the
newest one's root: the service never signs over records changed since.

Checkpoints are made by the scheduler every ``checkpoint_interval_seconds`` (one instance at a
time, by an advisory lock), by ``python -m mailbox audit checkpoint``, and on the fly for a proof
bundle whose records the newest checkpoint does not cover yet.

Cost: a checkpoint, and a bundle's inclusion proofs, read the hashes of all records up to its
size in pages (memory stays O(log n)): O(n) each, about four seconds per million records on
SQLite. Keeping the tree's inner nodes would make both proportional to the new records if that
ever matters.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.db import Database, try_advisory_lock
from mailbox.errors import EvidenceLogBroken
from mailbox.evidence.log import checkpoint_json
from mailbox.evidence.merkle import MerkleStream
from mailbox.models import EvidenceCheckpoint, EvidenceHead, EvidenceRecord
from mailbox.signing.records import EvidenceSigner
from mailbox.timefmt import rfc3339

__all__ = [
    "CHECKPOINT_LOCK",
    "LogServices",
    "checkpoint_covering",
    "checkpoint_digest",
    "inclusion_proofs",
    "latest_checkpoint",
    "log_tree",
    "make_checkpoint",
]


class LogServices(Protocol):
    """What making a checkpoint needs of the service (:class:`mailbox.services.Services` has
    both): its database and the evidence key that signs."""

    db: Database
    evidence: EvidenceSigner


log = logging.getLogger("mailbox.evidence.checkpoints")

CHECKPOINT_LOCK = 0x6D_62_78_03  # advisory lock key ("mbx" + 3)
PAGE = 5000


def checkpoint_digest(checkpoint: EvidenceCheckpoint) -> bytes:
    """The SHA-256 of :func:`~mailbox.evidence.log.checkpoint_json` of ``checkpoint``: what its
    signature and timestamp token cover."""
    body = checkpoint_json(checkpoint.seq, checkpoint.root_hash, rfc3339(checkpoint.created_at))
    return hashlib.sha256(body).digest()


async def latest_checkpoint(*, session: AsyncSession) -> EvidenceCheckpoint | None:
    """The checkpoint of the longest log, if any."""
    result = await session.exec(
        select(EvidenceCheckpoint).order_by(col(EvidenceCheckpoint.seq).desc()).limit(1)
    )
    return result.one_or_none()


async def log_tree(
    *,
    session: AsyncSession,
    size: int,
    prove: Iterable[int] = (),
    extends: EvidenceCheckpoint | None = None,
    page: int = PAGE,
) -> MerkleStream:
    """The Merkle tree of records 1 .. ``size`` (leaf ``i`` is record ``i + 1``'s hash) with the
    inclusion proofs of the leaves in ``prove``, read in pages. :class:`EvidenceLogBroken` if a
    record is missing, or if the tree does not pass through the root that the checkpoint
    ``extends`` signed (records it covers were changed since)."""
    tree = MerkleStream(size, prove)
    while tree.count < size:
        rows = (
            await session.exec(
                select(EvidenceRecord.seq, EvidenceRecord.record_hash)
                .where(col(EvidenceRecord.seq) > tree.count)
                .where(col(EvidenceRecord.seq) <= size)
                .order_by(col(EvidenceRecord.seq))
                .limit(page)
            )
        ).all()
        for seq, record_hash in rows:
            if seq != tree.count + 1:
                break
            tree.append(bytes.fromhex(record_hash))
            if extends is not None and tree.count == extends.seq:
                _check_extends(tree, extends)
        if not rows or tree.count != rows[-1][0]:
            raise EvidenceLogBroken(
                f"Evidence record {tree.count + 1} is missing; run `python -m mailbox audit verify`"
            )
    return tree


async def make_checkpoint(
    services: LogServices, *, leader_only: bool = True
) -> EvidenceCheckpoint | None:
    """Sign and store a checkpoint of the whole log as it is now. ``None`` when there is nothing
    new since the newest checkpoint, when another instance stored the same one first, or (with
    ``leader_only``, the scheduler's way) when another instance is making one right now: a
    PostgreSQL advisory lock is held while the root is computed."""
    async with services.db.session() as session:
        if leader_only and not await try_advisory_lock(session, CHECKPOINT_LOCK):
            log.debug("checkpoint skipped: another instance holds the lock")
            return None
        return await _make(services, session)


async def checkpoint_covering(services: LogServices, seq: int) -> EvidenceCheckpoint:
    """The newest checkpoint if it covers record ``seq``; otherwise a new one, made now (not
    waiting for the scheduler's next round)."""
    async with services.db.session() as session:
        latest = await latest_checkpoint(session=session)
    if latest is not None and latest.seq >= seq:
        return latest
    made = await make_checkpoint(services, leader_only=False)
    if made is not None:
        return made
    async with services.db.session() as session:  # another instance stored it meanwhile
        latest = await latest_checkpoint(session=session)
    if latest is None or latest.seq < seq:
        raise EvidenceLogBroken(f"No checkpoint covers evidence record {seq}")
    return latest


async def inclusion_proofs(
    *, session: AsyncSession, checkpoint: EvidenceCheckpoint, seqs: Iterable[int]
) -> dict[int, list[bytes]]:
    """The inclusion proof of each record ``seq`` (leaf ``seq - 1``) in the tree ``checkpoint``
    signed; :class:`EvidenceLogBroken` if the log no longer has that tree's root."""
    wanted = sorted(set(seqs))
    tree = await log_tree(
        session=session,
        size=checkpoint.seq,
        prove=[s - 1 for s in wanted],
        extends=checkpoint,
    )
    return {s: tree.proof(s - 1) for s in wanted}


async def _make(services: LogServices, session: AsyncSession) -> EvidenceCheckpoint | None:
    head = await session.get(EvidenceHead, 1)
    size = head.seq if head is not None else 0
    latest = await latest_checkpoint(session=session)
    if size == 0 or (latest is not None and latest.seq >= size):
        return None
    # Refuses to sign a log whose earlier records no longer match the newest checkpoint.
    tree = await log_tree(session=session, size=size, extends=latest)
    checkpoint = EvidenceCheckpoint(
        seq=size,
        root_hash=tree.root().hex(),
        created_at=now(),
        signature=b"",
        timestamp_token=b"",
    )
    # Signed outside any write transaction: an external TSA may take a while.
    checkpoint.signature, checkpoint.timestamp_token = await services.evidence.sign(
        checkpoint_digest(checkpoint).hex()
    )
    # Written in a transaction of its own: on SQLite the reading one could not turn into a
    # writer once other writers have committed.
    try:
        async with services.db.write() as writing:
            if await writing.get(EvidenceCheckpoint, size) is not None:
                return None
            writing.add(checkpoint)
    except IntegrityError:  # another instance stored the same checkpoint first
        return None
    log.info("checkpoint of %d records made, root %s", size, checkpoint.root_hash)
    return checkpoint


def _check_extends(tree: MerkleStream, checkpoint: EvidenceCheckpoint) -> None:
    if tree.root().hex() != checkpoint.root_hash:
        raise EvidenceLogBroken(
            f"The first {checkpoint.seq} evidence records no longer have the Merkle root their "
            "checkpoint signed; run `python -m mailbox audit verify`"
        )
