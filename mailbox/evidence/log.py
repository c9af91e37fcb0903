"""The evidence log: appending signed, timestamped, hash-linked records, and checking the chain.

Every record hashes a canonical JSON form of its fields, including its position ``seq`` and the
previous record's hash, so changing, deleting, inserting or reordering records breaks the chain.
The hash is signed by the evidence key and timestamped (RFC 3161). The head row holds the newest
position and hash, so cutting records off the end is detected too.

Appends are serialised by the head's row lock, held until the appending transaction ends, so
``seq`` is gap-free AND in commit order: a transaction can only take number n+1 once the one
that took n has committed (or rolled back, and then n is taken again). Every committed state of
the log is a prefix 1..head with nothing missing, which is what lets the event feed
(:mod:`mailbox.notifications.feed`) use ``seq`` as a cursor that never skips a late commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.evidence.bell import mark_appended
from mailbox.ids import new_id
from mailbox.models import EvidenceHead, EvidenceRecord
from mailbox.signing.records import EvidenceSigner
from mailbox.timefmt import rfc3339

__all__ = [
    "EvidenceDraft",
    "EvidenceEntry",
    "EvidenceType",
    "append",
    "append_entries",
    "append_many",
    "canonical_bytes",
    "canonical_fields",
    "canonical_json",
    "checkpoint_json",
]

GENESIS_HASH = "0" * 64
# What a record's hash covers, in the order they are listed in a proof bundle.
CANONICAL_FIELDS = (
    "seq",
    "id",
    "delivery_id",
    "type",
    "occurred_at",
    "actor",
    "actor_ip",
    "details",
    "original_sha256",
    "sealed_sha256",
    "prev_hash",
)


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
    # Retention: the content was crypto-shredded; the evidence and the hashes stay.
    CONTENT_PURGED = "ContentPurged"
    # Account events (no delivery): consent to electronic delivery given or withdrawn.
    CONSENT_GIVEN = "ConsentGiven"
    CONSENT_WITHDRAWN = "ConsentWithdrawn"
    # Service events (no delivery): a machine client registered, given or relieved of a key,
    # revoked. Who may fetch documents with legal effect is itself a fact an auditor checks.
    CLIENT_REGISTERED = "ClientRegistered"
    CLIENT_KEY_ADDED = "ClientKeyAdded"
    CLIENT_KEY_REMOVED = "ClientKeyRemoved"
    CLIENT_REVOKED = "ClientRevoked"
    # Outages: the service certified an outage (no delivery), and a delivery's legal date was
    # extended by one (its rule's extension, citing the outage's certificate).
    OUTAGE_CERTIFIED = "OutageCertified"
    OUTAGE_EXTENSION = "OutageExtension"
    # A hub office's system received a transmission's package (a hop of it) and the service
    # checked that every document it binds is stored as sealed (mailbox.transmissions).
    RECEIPT_ACKNOWLEDGEMENT = "ReceiptAcknowledgement"


@dataclass(frozen=True)
class EvidenceDraft:
    """What a delivery rule decided happened; :func:`append` makes it a signed record."""

    type: EvidenceType
    actor: str
    actor_ip: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


def canonical_fields(record: EvidenceRecord) -> dict[str, Any]:
    """The fields a record's hash covers, as JSON values (times in
    :func:`mailbox.timefmt.rfc3339` form)."""
    fields = {name: getattr(record, name) for name in CANONICAL_FIELDS}
    fields["occurred_at"] = rfc3339(record.occurred_at)
    return fields


def canonical_json(fields: Mapping[str, Any]) -> bytes:
    """The canonical encoding of :data:`CANONICAL_FIELDS` taken from ``fields``: JSON with
    sorted keys, no whitespace, UTF-8. A proof bundle's verifier rebuilds hashes with it."""
    body = {name: fields[name] for name in CANONICAL_FIELDS}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def checkpoint_json(size: int, root: str, created_at: str) -> bytes:
    """The canonical form of a signed checkpoint of the log (:mod:`mailbox.evidence.checkpoints`):
    JSON ``{"created_at", "root", "size"}`` with keys sorted, no whitespace, UTF-8; ``root`` is
    the hex Merkle root of the first ``size`` records, ``created_at`` in
    :func:`mailbox.timefmt.rfc3339` form. Its SHA-256 is what the checkpoint's signature and
    token cover."""
    body = {"size": size, "root": root, "created_at": created_at}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def canonical_bytes(record: EvidenceRecord) -> bytes:
    """The exact bytes whose SHA-256 is ``record.record_hash``."""
    return canonical_json(canonical_fields(record))


async def _lock_head(session: AsyncSession) -> EvidenceHead:
    result = await session.exec(select(EvidenceHead).where(EvidenceHead.id == 1).with_for_update())
    head = result.one_or_none()
    if head is None:
        head = EvidenceHead(id=1, seq=0, record_hash=GENESIS_HASH)
        session.add(head)
    return head


@dataclass(frozen=True)
class EvidenceEntry:
    """One record to append with :func:`append_entries`: the draft and what it is about."""

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
    occurred_at = at or now()
    entries = [
        EvidenceEntry(draft, delivery_id, original_sha256, sealed_sha256, occurred_at)
        for draft in drafts
    ]
    return await append_entries(session, signer, entries)


async def append_entries(
    session: AsyncSession, signer: EvidenceSigner, entries: Sequence[EvidenceEntry]
) -> list[EvidenceRecord]:
    """Append records about several deliveries in order (the outbox drain records a batch of
    alerts' outcomes at once), locking the head once and writing once."""
    if not entries:
        return []
    head = await _lock_head(session)
    records = []
    for entry in entries:
        record = EvidenceRecord(
            seq=head.seq + 1,
            id=new_id("evd"),
            delivery_id=entry.delivery_id,
            type=entry.draft.type.value,
            occurred_at=entry.at or now(),
            actor=entry.draft.actor,
            actor_ip=entry.draft.actor_ip,
            details=dict(entry.draft.details),
            original_sha256=entry.original_sha256,
            sealed_sha256=entry.sealed_sha256,
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
    mark_appended(session.sync_session)
    return records
