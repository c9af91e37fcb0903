"""The checks of a proof bundle's evidence records, offline: each record's canonical hash, its
signature by the bundled evidence certificate (which must be issued by the trust root), its
RFC 3161 token against the trust root, and their order and hash links. (Their inclusion in the
log's checkpoint is checked by :mod:`mailbox.proof.check_checkpoint`.)

Pure functions over parsed records; :mod:`mailbox.proof.check` reads the bundle and calls them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from mailbox.evidence.log import CANONICAL_FIELDS, canonical_json
from mailbox.signing.records import verify_record
from mailbox.signing.tsa import TimestampInvalid, token_gen_time, verify_timestamp_token
from mailbox.timefmt import rfc3339

__all__ = [
    "BundledRecord",
    "Finding",
    "base64_or_none",
    "evidence_certificate",
    "order_and_links",
    "parse_record",
    "record_hashes",
    "signatures",
    "timestamps",
]

Problem = Callable[["BundledRecord"], str | None]


@dataclass(frozen=True)
class Finding:
    """One check of a bundle: its name, whether it passed, and what was found."""

    check: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class BundledRecord:
    """One record as ``evidence.json`` states it; unreadable signatures, tokens, leaf indexes
    or inclusion proofs are ``None`` (the check that needs them fails)."""

    fields: Mapping[str, Any]
    record_hash: str
    signature: bytes | None
    token: bytes | None
    claimed_gen_time: str | None
    leaf_index: int | None = None
    inclusion_proof: tuple[bytes, ...] | None = None

    @property
    def seq(self) -> int:
        return int(self.fields["seq"])

    @property
    def digest(self) -> bytes | None:
        try:
            return bytes.fromhex(self.record_hash)
        except ValueError:
            return None


def parse_record(item: Mapping[str, Any]) -> BundledRecord:
    """A record of ``evidence.json``; ``KeyError`` or ``ValueError`` if it is not one at all."""
    missing = [k for k in (*CANONICAL_FIELDS, "record_hash") if k not in item]
    if missing:
        raise KeyError(f"a record lacks {', '.join(missing)}")
    int(item["seq"])  # a non-numeric seq makes the file unreadable, not a failed check
    index, proof = item.get("leaf_index"), item.get("inclusion_proof")
    return BundledRecord(
        {k: item[k] for k in CANONICAL_FIELDS},
        str(item["record_hash"]),
        base64_or_none(item.get("signature")),
        base64_or_none(item.get("timestamp_token")),
        item.get("timestamp_gen_time"),
        index if isinstance(index, int) and not isinstance(index, bool) else None,
        _hex_list(proof),
    )


def evidence_certificate(
    pem: bytes, trust_root: asn1_x509.Certificate, records: list[BundledRecord]
) -> Finding:
    """The bundled evidence certificate is signed by the trust root's key, and was valid when
    each record was stamped."""
    check = "evidence certificate"
    try:
        cert = x509.load_pem_x509_certificate(pem)
        cert.verify_directly_issued_by(x509.load_der_x509_certificate(trust_root.dump()))
    except (ValueError, TypeError, InvalidSignature) as exc:
        return Finding(check, False, f"not issued by the trust root ({type(exc).__name__})")
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    outside = [r.seq for r in records if not start <= _gen_time(r, default=start) <= end]
    if outside:
        return Finding(check, False, f"records {outside} were stamped outside its validity")
    return Finding(
        check, True, f"issued by the trust root, valid {rfc3339(start)} to {rfc3339(end)}"
    )


def record_hashes(records: list[BundledRecord]) -> Finding:
    """Each record's canonical form hashes to its ``record_hash``."""

    def problem(record: BundledRecord) -> str | None:
        if hashlib.sha256(canonical_json(record.fields)).hexdigest() != record.record_hash:
            return "content changed after signing"
        return None

    return _each(records, "record hashes", "recompute to record_hash", problem)


def signatures(records: list[BundledRecord], evidence_pem: bytes) -> Finding:
    """Each ``record_hash`` is signed by the key of the bundled evidence certificate."""
    try:
        cert: x509.Certificate | None = x509.load_pem_x509_certificate(evidence_pem)
    except ValueError:
        cert = None

    def problem(record: BundledRecord) -> str | None:
        if cert is None:
            return "no readable evidence certificate"
        if record.signature is None or record.digest is None:
            return "signature or hash unreadable"
        try:
            ok = verify_record(cert, record.digest, record.signature)
        except ValueError as exc:
            return str(exc)
        return None if ok else "signature does not verify"

    return _each(records, "signatures", "verify with the evidence certificate", problem)


def timestamps(records: list[BundledRecord], trust_root: asn1_x509.Certificate) -> Finding:
    """Each token is a valid RFC 3161 token over ``record_hash`` by a TSA of the trust root, and
    attests the time the bundle states."""

    def problem(record: BundledRecord) -> str | None:
        if record.token is None or record.digest is None:
            return "timestamp token or hash unreadable"
        try:
            gen_time = verify_timestamp_token(record.token, record.digest, trust_root=trust_root)
        except TimestampInvalid as exc:
            return str(exc)
        if record.claimed_gen_time != rfc3339(gen_time):
            return f"the token says {rfc3339(gen_time)}, the bundle {record.claimed_gen_time}"
        return None

    return _each(records, "timestamps", "verify against the trust root", problem)


def order_and_links(records: list[BundledRecord], delivery_id: str) -> Finding:
    """The records are about ``delivery_id``, in ``seq`` order, and each links to the one
    before it where their ``seq`` are consecutive (elsewhere other deliveries' records lie
    between them in the log)."""
    check = "order and links"
    if not records:
        return Finding(check, False, "the bundle holds no evidence records")
    problems = [
        f"record {r.seq} is about {r.fields['delivery_id']}"
        for r in records
        if r.fields["delivery_id"] != delivery_id
    ]
    links = 0
    for before, after in pairwise(records):
        if after.seq <= before.seq:
            problems.append(f"record {after.seq} follows {before.seq}: not in seq order")
        elif after.seq == before.seq + 1:
            links += 1
            if after.fields["prev_hash"] != before.record_hash:
                problems.append(f"record {after.seq} does not link to record {before.seq}")
    if problems:
        return Finding(check, False, "; ".join(problems))
    pairs = len(records) - 1
    linked = (
        "each links to the one before it"
        if links == pairs
        else f"{links} of {pairs} neighbours have consecutive seq and link; other deliveries' "
        "records lie between the rest"
    )
    return Finding(check, True, f"{len(records)} records of {delivery_id} in seq order; {linked}")


def _each(records: list[BundledRecord], check: str, what: str, problem: Problem) -> Finding:
    problems = [(r.seq, p) for r in records if (p := problem(r)) is not None]
    if problems:
        return Finding(check, False, "; ".join(f"record {seq}: {p}" for seq, p in problems))
    return Finding(check, bool(records), f"{len(records)} records {what}")


def _gen_time(record: BundledRecord, *, default: datetime) -> datetime:
    try:
        return token_gen_time(record.token) if record.token else default
    except TimestampInvalid:
        return default  # an unreadable token fails the timestamp check, reported there


def base64_or_none(value: Any) -> bytes | None:
    """The bytes of base64 text ``value``; ``None`` if it is not that."""
    try:
        return base64.b64decode(value, validate=True) if isinstance(value, str) else None
    except (binascii.Error, ValueError):
        return None


def _hex_list(value: Any) -> tuple[bytes, ...] | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    try:
        return tuple(bytes.fromhex(v) for v in value)
    except ValueError:
        return None
