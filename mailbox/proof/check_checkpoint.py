"""The checks of a proof bundle's log checkpoint, offline: ``checkpoint.json`` is signed by the
bundled evidence certificate and timestamped by a TSA of the trust root, and each record's
inclusion proof leads from its ``record_hash`` to the checkpoint's Merkle root (RFC 6962).

Together they show that every record the bundle holds was in the service's log when the
checkpoint was stamped. They cannot show that the bundle holds *all* of the delivery's records.

Pure functions over parsed input; :mod:`mailbox.proof.check` reads the bundle and calls them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from asn1crypto import x509 as asn1_x509
from cryptography import x509

from mailbox.evidence.log import checkpoint_json
from mailbox.evidence.merkle import verify_inclusion
from mailbox.proof.check_records import BundledRecord, Finding, base64_or_none
from mailbox.signing.records import verify_record
from mailbox.signing.tsa import TimestampInvalid, token_gen_time, verify_timestamp_token
from mailbox.timefmt import rfc3339

__all__ = [
    "BundledCheckpoint",
    "checkpoint_signature",
    "checkpoint_timestamp",
    "inclusion",
    "parse_checkpoint",
]


@dataclass(frozen=True)
class BundledCheckpoint:
    """``checkpoint.json`` as the bundle states it; unreadable signature or token are ``None``
    (the check that needs them fails)."""

    size: int
    root: str
    created_at: str
    stated_hash: str
    signature: bytes | None
    token: bytes | None
    claimed_gen_time: str | None

    @property
    def digest(self) -> bytes:
        """The SHA-256 of the canonical form of ``size``, ``root`` and ``created_at``."""
        return hashlib.sha256(checkpoint_json(self.size, self.root, self.created_at)).digest()

    @property
    def root_bytes(self) -> bytes | None:
        try:
            return bytes.fromhex(self.root)
        except ValueError:
            return None


def parse_checkpoint(raw: bytes) -> BundledCheckpoint:
    """The checkpoint in ``raw``; ``ValueError``, ``KeyError`` or ``TypeError`` if the file is
    not one at all."""
    body = json.loads(raw)
    if not isinstance(body, Mapping):
        raise TypeError("checkpoint.json is not a JSON object")
    size = body["size"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError("the checkpoint's size is not a positive integer")
    return BundledCheckpoint(
        size=size,
        root=str(body["root"]),
        created_at=str(body["created_at"]),
        stated_hash=str(body.get("checkpoint_hash")),
        signature=base64_or_none(body.get("signature")),
        token=base64_or_none(body.get("timestamp_token")),
        claimed_gen_time=body.get("timestamp_gen_time"),
    )


def checkpoint_signature(checkpoint: BundledCheckpoint, evidence_pem: bytes) -> Finding:
    """The checkpoint's hash recomputes from its size, root and time, and is signed by the key
    of the bundled evidence certificate (whose issuer the "evidence certificate" check tests),
    valid at the checkpoint's time."""
    check = "checkpoint signature"
    digest = checkpoint.digest
    if digest.hex() != checkpoint.stated_hash:
        return Finding(check, False, "size, root or created_at changed after signing")
    try:
        cert = x509.load_pem_x509_certificate(evidence_pem)
    except ValueError:
        return Finding(check, False, "no readable evidence certificate")
    if checkpoint.signature is None:
        return Finding(check, False, "signature unreadable")
    try:
        if not verify_record(cert, digest, checkpoint.signature):
            return Finding(check, False, "signature does not verify")
    except ValueError as exc:
        return Finding(check, False, str(exc))
    try:
        stamped = token_gen_time(checkpoint.token) if checkpoint.token else None
    except TimestampInvalid:
        stamped = None  # reported by the timestamp check
    if stamped is not None and not (
        cert.not_valid_before_utc <= stamped <= cert.not_valid_after_utc
    ):
        return Finding(check, False, "stamped outside the evidence certificate's validity")
    return Finding(
        check,
        True,
        f"records 1 to {checkpoint.size} of the log, root {checkpoint.root}, "
        "signed with the evidence certificate",
    )


def checkpoint_timestamp(
    checkpoint: BundledCheckpoint, trust_root: asn1_x509.Certificate
) -> Finding:
    """The checkpoint's token is a valid RFC 3161 token over its hash by a TSA of the trust
    root, and attests the time the bundle states."""
    check = "checkpoint timestamp"
    if checkpoint.token is None:
        return Finding(check, False, "timestamp token unreadable")
    try:
        gen_time = verify_timestamp_token(
            checkpoint.token, checkpoint.digest, trust_root=trust_root
        )
    except TimestampInvalid as exc:
        return Finding(check, False, str(exc))
    if checkpoint.claimed_gen_time != rfc3339(gen_time):
        return Finding(
            check,
            False,
            f"the token says {rfc3339(gen_time)}, the bundle {checkpoint.claimed_gen_time}",
        )
    return Finding(check, True, f"the checkpoint existed at {rfc3339(gen_time)}")


def inclusion(records: list[BundledRecord], checkpoint: BundledCheckpoint) -> Finding:
    """Each record is leaf ``seq - 1`` of the checkpoint's tree: its inclusion proof leads from
    its ``record_hash`` to the checkpoint's root."""
    check = "inclusion proofs"
    root = checkpoint.root_bytes
    problems = []
    for record in records:
        index, path = record.leaf_index, record.inclusion_proof
        if index is None or path is None or record.digest is None:
            problems.append(f"record {record.seq}: leaf index or inclusion proof unreadable")
        elif index != record.seq - 1:
            problems.append(f"record {record.seq}: leaf index {index} is not seq - 1")
        elif index >= checkpoint.size:
            problems.append(
                f"record {record.seq}: not covered by the checkpoint of {checkpoint.size} records"
            )
        elif root is None or not verify_inclusion(
            record.digest, index, checkpoint.size, path, root
        ):
            problems.append(f"record {record.seq}: inclusion proof does not lead to the root")
    if problems:
        return Finding(check, False, "; ".join(problems))
    return Finding(
        check,
        bool(records),
        f"{len(records)} records are in the checkpoint's log of {checkpoint.size} records",
    )
