"""Auditing the evidence log: re-checking every record's hash link, content hash, signature and
RFC 3161 token in ``seq`` order, page by page, and comparing the end with the head row, so a
changed, deleted, inserted, reordered or cut-off record is found and named; then every signed
checkpoint's signature, token and Merkle root against the records it covers."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.evidence.checkpoints import checkpoint_digest
from mailbox.evidence.log import GENESIS_HASH, canonical_bytes
from mailbox.evidence.merkle import MerkleStream
from mailbox.models import EvidenceCheckpoint, EvidenceHead, EvidenceRecord
from mailbox.signing.pki import KeyMaterial
from mailbox.signing.records import verify_record
from mailbox.signing.tsa import TimestampInvalid, verify_timestamp_token

__all__ = [
    "ChainBreak",
    "ChainChecker",
    "CheckpointBreak",
    "LogReport",
    "check_checkpoint",
    "check_log",
]


@dataclass(frozen=True)
class ChainBreak:
    """The first record at which the log stops being trustworthy, and why."""

    seq: int
    record_id: str | None
    reason: str


@dataclass(frozen=True)
class CheckpointBreak:
    """The first signed checkpoint that does not hold, and why."""

    seq: int
    reason: str


@dataclass
class LogReport:
    """What :func:`check_log` found: records and checkpoints that passed, the first breaks."""

    checked: int = 0
    broken: ChainBreak | None = None
    checkpoints_checked: int = 0
    bad_checkpoint: CheckpointBreak | None = None
    unchecked_checkpoints: int = 0  # those covering the broken record: their roots cannot hold

    @property
    def ok(self) -> bool:
        return self.broken is None and self.bad_checkpoint is None


class ChainChecker:
    """Checks records fed in ``seq`` order from record 1; keeps only the last hash and the
    Merkle tree's O(log n) frontier, so any log size fits. The Merkle root of the records that
    passed is noted at each size in ``root_sizes`` (the checkpoints' sizes)."""

    def __init__(
        self, keys: KeyMaterial, *, check_timestamps: bool = True, root_sizes: Iterable[int] = ()
    ) -> None:
        self.keys = keys
        self.check_timestamps = check_timestamps
        self.checked = 0
        self.roots: dict[int, bytes] = {}
        self._root_sizes = set(root_sizes)
        self._tree = MerkleStream()
        self._expected_seq = 1
        self._prev_hash = GENESIS_HASH

    def feed(self, records: Iterable[EvidenceRecord]) -> ChainBreak | None:
        """Check the next records; the first break, or ``None`` if all passed."""
        for record in records:
            broken = self._check(record)
            if broken is not None:
                return broken
            self._prev_hash, self._expected_seq = record.record_hash, record.seq + 1
            self.checked += 1
            self._tree.append(bytes.fromhex(record.record_hash))
            if self._tree.count in self._root_sizes:
                self.roots[self._tree.count] = self._tree.root()
        return None

    def _check(self, record: EvidenceRecord) -> ChainBreak | None:
        if record.seq != self._expected_seq:
            return ChainBreak(
                self._expected_seq,
                None,
                f"record {self._expected_seq} is missing (next is {record.seq})",
            )
        if record.prev_hash != self._prev_hash:
            return ChainBreak(
                record.seq,
                record.id,
                "does not link to the record before it (deleted, inserted or reordered records)",
            )
        if hashlib.sha256(canonical_bytes(record)).hexdigest() != record.record_hash:
            return ChainBreak(record.seq, record.id, "content changed after signing")
        digest = bytes.fromhex(record.record_hash)
        if not verify_record(self.keys.evidence_cert, digest, record.signature):
            return ChainBreak(record.seq, record.id, "signature does not verify")
        if self.check_timestamps:
            try:
                verify_timestamp_token(
                    record.timestamp_token, digest, trust_root=self.keys.root_cert
                )
            except TimestampInvalid as exc:
                return ChainBreak(record.seq, record.id, f"timestamp invalid: {exc}")
        return None

    def finish(self, head_seq: int, head_hash: str) -> ChainBreak | None:
        """Compare the end of the log with the head row: detects records cut off the end."""
        last_seq = self._expected_seq - 1
        if last_seq != head_seq or (head_seq and self._prev_hash != head_hash):
            return ChainBreak(
                last_seq + 1,
                None,
                f"the log ends at record {last_seq} but its head says {head_seq}: records were "
                "removed from the end",
            )
        return None


async def check_log(
    session: AsyncSession,
    keys: KeyMaterial,
    *,
    batch: int = 1000,
    check_timestamps: bool = True,
    progress: Callable[[int], object] | None = None,
    checkpoints: bool = True,
) -> LogReport:
    """Check the whole log in the database, streamed in pages of ``batch`` records, then each
    signed checkpoint in ``seq`` order that covers only records before the first break (the
    others are counted as unchecked): its root against those records, its signature and its
    token."""
    head = (await session.exec(select(EvidenceHead).where(EvidenceHead.id == 1))).one_or_none()
    sizes = list((await session.exec(select(EvidenceCheckpoint.seq))).all()) if checkpoints else []
    checker = ChainChecker(keys, check_timestamps=check_timestamps, root_sizes=sizes)
    report, last = LogReport(), 0
    while True:
        page = (
            await session.exec(
                select(EvidenceRecord)
                .where(EvidenceRecord.seq > last)
                .order_by(col(EvidenceRecord.seq))
                .limit(batch)
            )
        ).all()
        if not page:
            break
        report.broken = checker.feed(page)
        if report.broken is not None:
            break
        last = page[-1].seq
        session.expunge_all()  # keep memory flat on long logs
        if progress is not None:
            progress(len(page))
    if report.broken is None and head is not None:
        report.broken = checker.finish(head.seq, head.record_hash)
    report.checked = checker.checked
    if checkpoints:
        await _check_checkpoints(session, keys, checker, report, check_timestamps, batch)
    return report


def check_checkpoint(
    checkpoint: EvidenceCheckpoint,
    root: bytes | None,
    keys: KeyMaterial,
    *,
    check_timestamps: bool = True,
) -> str | None:
    """Why ``checkpoint`` does not hold, or ``None``: its root must be ``root`` (the Merkle
    root of the records it covers; ``None`` if the log has fewer), its signature the evidence
    key's and its token valid, both over :func:`~mailbox.evidence.checkpoints.checkpoint_digest`."""
    if root is None:
        return f"covers {checkpoint.seq} records, but the log has fewer"
    if checkpoint.root_hash != root.hex():
        return (
            f"its root differs from the Merkle root of records 1 to {checkpoint.seq} "
            "(the checkpoint or those records were changed)"
        )
    digest = checkpoint_digest(checkpoint)
    if not verify_record(keys.evidence_cert, digest, checkpoint.signature):
        return "signature does not verify"
    if check_timestamps:
        try:
            verify_timestamp_token(checkpoint.timestamp_token, digest, trust_root=keys.root_cert)
        except TimestampInvalid as exc:
            return f"timestamp invalid: {exc}"
    return None


async def _check_checkpoints(
    session: AsyncSession,
    keys: KeyMaterial,
    checker: ChainChecker,
    report: LogReport,
    check_timestamps: bool,
    batch: int,
) -> None:
    query = select(EvidenceCheckpoint)
    if report.broken is not None:
        query = query.where(EvidenceCheckpoint.seq < report.broken.seq)
        report.unchecked_checkpoints = (
            await session.exec(
                select(func.count())
                .select_from(EvidenceCheckpoint)
                .where(EvidenceCheckpoint.seq >= report.broken.seq)
            )
        ).one()
    last = 0
    while True:
        page = (
            await session.exec(
                query.where(EvidenceCheckpoint.seq > last)
                .order_by(col(EvidenceCheckpoint.seq))
                .limit(batch)
            )
        ).all()
        if not page:
            return
        for checkpoint in page:
            reason = check_checkpoint(
                checkpoint,
                checker.roots.get(checkpoint.seq),
                keys,
                check_timestamps=check_timestamps,
            )
            if reason is not None:
                report.bad_checkpoint = CheckpointBreak(checkpoint.seq, reason)
                return
            report.checkpoints_checked += 1
        last = page[-1].seq
        session.expunge_all()
