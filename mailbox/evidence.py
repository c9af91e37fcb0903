"""The evidence log: appending signed, timestamped, hash-linked records, and checking the chain.

Every record hashes a canonical JSON form of its fields, including its position ``seq`` and the
previous record's hash, so changing, deleting, inserting or reordering records breaks the chain.
The hash is signed by the evidence key and timestamped (RFC 3161). The head row holds the newest
position and hash, so cutting records off the end is detected too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.ids import new_id
from mailbox.models import EvidenceHead, EvidenceRecord
from mailbox.signing.evidence import sign_record, verify_record
from mailbox.signing.pki import KeyMaterial
from mailbox.signing.tsa import LocalTimeStamper, TimestampInvalid, verify_timestamp_token

__all__ = [
    "ChainBreak",
    "EvidenceDraft",
    "EvidenceEntry",
    "EvidenceSigner",
    "EvidenceType",
    "append",
    "append_many",
    "append_many",
    "canonical_bytes",
    "check_chain",
    "rfc3339",
]

GENESIS_HASH = "0" * 64


class EvidenceType(StrEnum):
    """Event names after ETSI EN 319 522-2 where one fits."""

    SUBMISSION_ACCEPTANCE = "SubmissionAcceptance"
    SUBMISSION_REJECTION = "SubmissionRejection"
    CONTENT_CONSIGNMENT = "ContentConsignment"
    NOTIFICATION_FOR_ACCEPTANCE = "NotificationForAcceptance"
    NOTIFICATION_FAILURE = "NotificationFailure"
    CONTENT_HANDOVER = "ContentHandover"
    CONTENT_ACCESS = "ContentAccess"
    DEEMED_DELIVERY = "DeemedDelivery"
    RELAY_TO_NON_ERDS = "RelayToNonERDS"
    PAPER_POSTED = "PaperPosted"
    PAPER_RETURNED = "PaperReturned"
    # Account events (no delivery): consent to electronic delivery given or withdrawn.
    CONSENT_GIVEN = "ConsentGiven"
    CONSENT_WITHDRAWN = "ConsentWithdrawn"


@dataclass(frozen=True)
class EvidenceDraft:
    """What a delivery rule decided happened; :func:`append` makes it a signed record."""

    type: EvidenceType
    actor: str
    actor_ip: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


class EvidenceSigner:
    """The evidence key and the time-stamping authority, loaded once per process."""

    def __init__(self, keys: KeyMaterial, timestamper: Any) -> None:
        self.keys = keys
        self.timestamper = timestamper

    async def sign(self, record_hash: str) -> tuple[bytes, bytes]:
        """Signature and RFC 3161 token over ``record_hash``. The in-process TSA answers in
        under a millisecond, directly; an external TSA is awaited without blocking the loop."""
        digest = bytes.fromhex(record_hash)
        if isinstance(self.timestamper, LocalTimeStamper):
            token = self.timestamper.token(digest)
        else:
            token = await self.timestamper.async_timestamp(digest, "sha256")
        return sign_record(self.keys.evidence_key, digest), token.dump()


def rfc3339(value: datetime) -> str:
    """``2026-11-26T09:14:03.123456Z``: the one text form of times in records and the API."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_bytes(record: EvidenceRecord) -> bytes:
    """The exact bytes whose SHA-256 is ``record.record_hash``."""
    body = {
        "seq": record.seq,
        "id": record.id,
        "delivery_id": record.delivery_id,
        "type": record.type,
        "occurred_at": rfc3339(record.occurred_at),
        "actor": record.actor,
        "actor_ip": record.actor_ip,
        "details": record.details,
        "original_sha256": record.original_sha256,
        "sealed_sha256": record.sealed_sha256,
        "prev_hash": record.prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


async def _lock_head(session: AsyncSession) -> EvidenceHead:
    result = await session.exec(select(EvidenceHead).where(EvidenceHead.id == 1).with_for_update())
    head = result.one_or_none()
    if head is None:
        head = EvidenceHead(id=1, seq=0, record_hash=GENESIS_HASH)
        session.add(head)
    return head


@dataclass(frozen=True)
class EvidenceEntry:
    """One record to append with :func:`append_many`: the draft and what it is about."""

    draft: EvidenceDraft
    delivery_id: str | None
    original_sha256: str | None = None
    sealed_sha256: str | None = None
    at: datetime | None = None


async def append(
    session: AsyncSession,
    signer: EvidenceSigner,
    draft: EvidenceDraft,
    *,
    delivery_id: str | None,
    original_sha256: str | None = None,
    sealed_sha256: str | None = None,
    at: datetime | None = None,
) -> EvidenceRecord:
    """Append one record to the log inside the caller's transaction (which must commit)."""
    (record,) = await append_many(
        session,
        signer,
        [draft],
        delivery_id=delivery_id,
        original_sha256=original_sha256,
        sealed_sha256=sealed_sha256,
        at=at,
    )
    return record


async def append_many(
    session: AsyncSession,
    signer: EvidenceSigner,
    drafts: Sequence[EvidenceDraft],
    *,
    delivery_id: str | None,
    original_sha256: str | None = None,
    sealed_sha256: str | None = None,
    at: datetime | None = None,
) -> list[EvidenceRecord]:
    """Append records for one delivery in order, locking the head once and writing once."""
    head = await _lock_head(session)
    occurred_at = at or now()
    records = []
    for draft in drafts:
        record = EvidenceRecord(
            seq=head.seq + 1,
            id=new_id("evd"),
            delivery_id=delivery_id,
            type=draft.type.value,
            occurred_at=occurred_at,
            actor=draft.actor,
            actor_ip=draft.actor_ip,
            details=dict(draft.details),
            original_sha256=original_sha256,
            sealed_sha256=sealed_sha256,
            prev_hash=head.record_hash,
            record_hash="",
            signature=b"",
            timestamp_token=b"",
        )
        record.record_hash = hashlib.sha256(canonical_bytes(record)).hexdigest()
        record.signature, record.timestamp_token = await signer.sign(record.record_hash)
        head.seq, head.record_hash = record.seq, record.record_hash
        records.append(record)
    session.add_all(records)
    session.add(head)
    await session.flush()
    return records


@dataclass(frozen=True)
class ChainBreak:
    """The first record at which the log stops being trustworthy, and why."""

    seq: int
    record_id: str | None
    reason: str


def check_records(
    records: Iterable[EvidenceRecord],
    keys: KeyMaterial,
    *,
    head: tuple[int, str] | None,
    check_timestamps: bool = True,
) -> tuple[int, ChainBreak | None]:
    """Check records in ``seq`` order; return how many passed and the first break, if any.

    ``head`` is the (seq, hash) the log claims to end at; ``None`` skips the truncation check
    (for a bundle holding only part of the log).
    """
    expected_seq, prev_hash, checked = None, None, 0
    for record in records:
        if expected_seq is None:
            expected_seq = record.seq
            prev_hash = record.prev_hash if record.seq != 1 else GENESIS_HASH
        if record.seq != expected_seq:
            return checked, ChainBreak(
                expected_seq, None, f"record {expected_seq} is missing (next is {record.seq})"
            )
        recomputed = hashlib.sha256(canonical_bytes(record)).hexdigest()
        if record.prev_hash != prev_hash:
            return checked, ChainBreak(
                record.seq,
                record.id,
                "does not link to the record before it (deleted, inserted or reordered records)",
            )
        if recomputed != record.record_hash:
            return checked, ChainBreak(record.seq, record.id, "content changed after signing")
        digest = bytes.fromhex(record.record_hash)
        if not verify_record(keys.evidence_cert, digest, record.signature):
            return checked, ChainBreak(record.seq, record.id, "signature does not verify")
        if check_timestamps:
            try:
                verify_timestamp_token(record.timestamp_token, digest, trust_root=keys.root_cert)
            except TimestampInvalid as exc:
                return checked, ChainBreak(record.seq, record.id, f"timestamp invalid: {exc}")
        prev_hash, expected_seq, checked = record.record_hash, record.seq + 1, checked + 1
    if head is not None:
        head_seq, head_hash = head
        last_seq = (expected_seq or 1) - 1
        if last_seq != head_seq or (head_seq and prev_hash != head_hash):
            return checked, ChainBreak(
                last_seq + 1,
                None,
                f"the log ends at record {last_seq} but its head says {head_seq}: records were "
                "removed from the end",
            )
    return checked, None


async def check_chain(
    session: AsyncSession,
    keys: KeyMaterial,
    *,
    batch: int = 1000,
    check_timestamps: bool = True,
    progress: Any = None,
) -> tuple[int, ChainBreak | None]:
    """Check the whole log in the database, streaming it in ``seq`` order."""
    head_row = (await session.exec(select(EvidenceHead).where(EvidenceHead.id == 1))).one_or_none()
    head = (head_row.seq, head_row.record_hash) if head_row else (0, GENESIS_HASH)

    async def records() -> list[EvidenceRecord]:
        rows: list[EvidenceRecord] = []
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
                return rows
            rows.extend(page)
            last = page[-1].seq
            if progress is not None:
                progress(len(page))

    return check_records(await records(), keys, head=head, check_timestamps=check_timestamps)
