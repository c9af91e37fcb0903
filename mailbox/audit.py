"""Auditing the evidence log: re-checking every record's hash link, content hash, signature and
RFC 3161 token in ``seq`` order, page by page, and comparing the end with the head row, so a
changed, deleted, inserted, reordered or cut-off record is found and named."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.evidence import GENESIS_HASH, canonical_bytes
from mailbox.models import EvidenceHead, EvidenceRecord
from mailbox.signing.evidence import verify_record
from mailbox.signing.pki import KeyMaterial
from mailbox.signing.tsa import TimestampInvalid, verify_timestamp_token

__all__ = ["ChainBreak", "ChainChecker", "check_chain"]


@dataclass(frozen=True)
class ChainBreak:
    """The first record at which the log stops being trustworthy, and why."""

    seq: int
    record_id: str | None
    reason: str


class ChainChecker:
    """Checks records fed in ``seq`` order; keeps only the last hash, so any log size fits."""

    def __init__(self, keys: KeyMaterial, *, check_timestamps: bool = True) -> None:
        self.keys = keys
        self.check_timestamps = check_timestamps
        self.checked = 0
        self._expected_seq: int | None = None
        self._prev_hash: str | None = None

    def feed(self, records: Iterable[EvidenceRecord]) -> ChainBreak | None:
        """Check the next records; the first break, or ``None`` if all passed."""
        for record in records:
            broken = self._check(record)
            if broken is not None:
                return broken
            self._prev_hash, self._expected_seq = record.record_hash, record.seq + 1
            self.checked += 1
        return None

    def _check(self, record: EvidenceRecord) -> ChainBreak | None:
        if self._expected_seq is None:
            self._expected_seq = record.seq
            self._prev_hash = record.prev_hash if record.seq != 1 else GENESIS_HASH
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
        last_seq = (self._expected_seq or 1) - 1
        if last_seq != head_seq or (head_seq and self._prev_hash != head_hash):
            return ChainBreak(
                last_seq + 1,
                None,
                f"the log ends at record {last_seq} but its head says {head_seq}: records were "
                "removed from the end",
            )
        return None


async def check_chain(
    session: AsyncSession,
    keys: KeyMaterial,
    *,
    batch: int = 1000,
    check_timestamps: bool = True,
    progress: Callable[[int], object] | None = None,
) -> tuple[int, ChainBreak | None]:
    """Check the whole log in the database; return how many records passed and the first
    break, if any. Streams the log in pages of ``batch`` records."""
    head = (await session.exec(select(EvidenceHead).where(EvidenceHead.id == 1))).one_or_none()
    checker = ChainChecker(keys, check_timestamps=check_timestamps)
    last = 0
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
        broken = checker.feed(page)
        if broken is not None:
            return checker.checked, broken
        last = page[-1].seq
        session.expunge_all()  # keep memory flat on long logs
        if progress is not None:
            progress(len(page))
    broken = checker.finish(head.seq, head.record_hash) if head else None
    return checker.checked, broken
