"""Verifying a proof-of-delivery bundle offline, with the service's root certificate alone.

Pure: no database, no network, no service keys. The trust root is the auditor's (obtained from
the service out of band); the ``root.pem`` inside the bundle is a convenience and is never
trusted. Each check is reported separately, passed or not, so an auditor sees *what* failed.

A delivery's records are not adjacent in the service's global log (other deliveries' records
lie between them), so the hash links are checked only between records with consecutive ``seq``.
That each record was in the log at a time is shown by its inclusion proof in the bundled signed
checkpoint (:mod:`mailbox.proof.check_checkpoint`); that the bundle holds *all* of the delivery's
records cannot be shown offline: ``mailbox audit verify`` checks the complete log on the service.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from io import BytesIO
from typing import Any

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509

from mailbox.evidence.log import EvidenceType
from mailbox.proof.check_checkpoint import (
    BundledCheckpoint,
    checkpoint_signature,
    checkpoint_timestamp,
    inclusion,
    parse_checkpoint,
)
from mailbox.proof.check_records import (
    BundledRecord,
    Finding,
    evidence_certificate,
    order_and_links,
    parse_record,
    record_hashes,
    signatures,
    timestamps,
)
from mailbox.signing.detached import DetachedSealInvalid, validate_detached
from mailbox.signing.seal import PdfRejected, validate_sealed_pdf
from mailbox.timefmt import rfc3339

__all__ = [
    "BUNDLE_FORMAT",
    "CHECKPOINT",
    "DATA_DOCUMENTS",
    "DOCUMENT",
    "BundleReport",
    "Finding",
    "InputUnreadable",
    "Verdict",
    "document_name",
    "load_trust_root",
    "read_bundle",
    "verify_bundle",
]

BUNDLE_FORMAT = "mailbox-proof-of-delivery/2"
DOCUMENT, EVIDENCE, RECEIPT, README = "document.pdf", "evidence.json", "receipt.pdf", "README.txt"
CHECKPOINT = "checkpoint.json"
# A data document in a bundle, by media type; its detached seal is the same name + ".p7s".
DATA_DOCUMENTS = {"application/json": "document.json", "application/xml": "document.xml"}
SEAL_SUFFIX = ".p7s"
# Longest error repeated in a finding or a refusal.
_DETAIL_MAX = 300
# What a bundle may unpack to: the largest PDF accepted, a receipt and the evidence fit well.
MAX_UNPACKED = 256 * 1024 * 1024
CERTIFICATES = {role: f"certificates/{role}.pem" for role in ("root", "evidence", "tsa", "seal")}
_REQUIRED = (EVIDENCE, CHECKPOINT, RECEIPT, CERTIFICATES["evidence"])
MEMBERSHIP_NOTE = (
    "Hash links are checked between records with consecutive seq only: a delivery's records "
    "are not adjacent in the service's log. The inclusion proofs show that each record in the "
    "bundle was in the log when the checkpoint was timestamped; they cannot show that the "
    "bundle holds all of the delivery's records (one left out goes unnoticed here). The "
    "complete log is checked by `python -m mailbox audit verify` on the service."
)


NO_DOCUMENT_NOTE = (
    "The document (document.pdf, or document.json / document.xml) is not in this bundle (it "
    "is given only to those who may pick the document up): the records prove the document by "
    "its SHA-256 (sealed_sha256, original_sha256); hash a copy of the document to compare."
)


PURGED_TYPE = EvidenceType.CONTENT_PURGED.value
DATA_ORIGINAL_NOTE = (
    "The document is a data document: what was sealed and is in this bundle is the document as "
    "stored (JSON in its canonical form), whose SHA-256 is every record's sealed_sha256; the "
    "records' original_sha256 is that of the bytes the office sent, which are not in the bundle."
)


def document_name(media_type: str) -> str:
    """The name of a document of ``media_type`` in a bundle (``document.json``, ...)."""
    return DATA_DOCUMENTS.get(media_type, DOCUMENT)


class InputUnreadable(ValueError):
    """Not something to verify: not a ZIP, a file missing, a malformed evidence.json or root."""


class Verdict:
    """What a report of checks concludes from its ``findings``."""

    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        """Whether there were checks and every one passed."""
        return bool(self.findings) and all(f.passed for f in self.findings)

    def failed(self) -> list[str]:
        """The names of the checks that failed."""
        return [f.check for f in self.findings if not f.passed]


@dataclass(frozen=True)
class BundleReport(Verdict):
    """Everything checked about one bundle; ``ok`` only if every check passed."""

    delivery_id: str
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()
    # When a ContentPurged record says the document's content was removed (retention).
    content_purged_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "delivery_id": self.delivery_id,
            "checks": [asdict(f) for f in self.findings],
            "notes": list(self.notes),
            "content_purged_at": self.content_purged_at,
        }


def load_trust_root(data: bytes) -> asn1_x509.Certificate:
    """The certificate in ``data`` (PEM or DER); ``InputUnreadable`` if there is none."""
    try:
        if pem.detect(data):
            _, _, data = pem.unarmor(data)
        cert = asn1_x509.Certificate.load(data)
        cert.native  # noqa: B018  (asn1crypto parses lazily: force it to surface bad input)
    except (ValueError, TypeError) as exc:
        raise InputUnreadable(f"The trust root is not an X.509 certificate: {exc}") from None
    return cert


def verify_bundle(zip_bytes: bytes, *, trust_root: asn1_x509.Certificate) -> BundleReport:
    """Check every part of a proof bundle against ``trust_root``; ``InputUnreadable`` if it is
    not a readable bundle at all. Blocking and CPU-bound (PDF and token validation)."""
    files = _read_zip(zip_bytes)
    body, records = _read_evidence(files[EVIDENCE])
    checkpoint = _read_checkpoint(files[CHECKPOINT])
    evidence_pem = files[CERTIFICATES["evidence"]]
    held = [name for name in (DOCUMENT, *DATA_DOCUMENTS.values()) if name in files]
    document = files[held[0]] if held else None
    notes = [MEMBERSHIP_NOTE]
    findings = []
    purged = next((r for r in reversed(records) if r.fields["type"] == PURGED_TYPE), None)
    if len(held) > 1:
        findings.append(Finding("document", False, f"the bundle holds {len(held)} documents"))
    if document is not None and held[0] == DOCUMENT:
        findings += [
            _checked("document seal", _pdf_seal, "document seal", document, trust_root),
            _checked("document hash", _document_hash, document, records),
            _checked("original document", _original, document, body, records),
        ]
    elif document is not None:
        seal = files.get(held[0] + SEAL_SUFFIX)
        findings += [
            _checked("document seal", _detached_seal, held[0], document, seal, trust_root),
            _checked("document hash", _document_hash, document, records),
        ]
        notes.append(DATA_ORIGINAL_NOTE)
    if document is not None:
        if purged is not None:
            findings.append(
                Finding(
                    "content purged",
                    False,
                    f"{held[0]} is in the bundle, but record {purged.seq} says the content "
                    "was purged before",
                )
            )
    elif purged is not None:
        notes.append(_purged_note(purged))
    else:
        notes.append(NO_DOCUMENT_NOTE)
    findings += [
        _checked("evidence certificate", evidence_certificate, evidence_pem, trust_root, records),
        _checked("record hashes", record_hashes, records),
        _checked("signatures", signatures, records, evidence_pem),
        _checked("timestamps", timestamps, records, trust_root),
        _checked("order and links", order_and_links, records, str(body.get("delivery_id"))),
        _checked("checkpoint signature", checkpoint_signature, checkpoint, evidence_pem),
        _checked("checkpoint timestamp", checkpoint_timestamp, checkpoint, trust_root),
        _checked("inclusion proofs", inclusion, records, checkpoint),
        _checked("receipt seal", _pdf_seal, "receipt seal", files[RECEIPT], trust_root),
    ]
    bundled_root = files.get(CERTIFICATES["root"])
    if bundled_root is not None and _fingerprint(bundled_root) != _fingerprint(trust_root.dump()):
        notes.append(
            f"{CERTIFICATES['root']} in the bundle is not the trust root given; it was not used."
        )
    return BundleReport(
        str(body.get("delivery_id")),
        tuple(findings),
        tuple(notes),
        content_purged_at=str(purged.fields["occurred_at"]) if purged is not None else None,
    )


def read_bundle(
    zip_bytes: bytes,
) -> tuple[dict[str, bytes], dict[str, Any], list[BundledRecord]]:
    """The files of a bundle, its ``evidence.json`` and the records in it, read as
    :func:`verify_bundle` reads them (``InputUnreadable`` alike); checks nothing."""
    files = _read_zip(zip_bytes)
    body, records = _read_evidence(files[EVIDENCE])
    return files, body, records


def _purged_note(record: BundledRecord) -> str:
    details = record.fields.get("details")
    reason = details.get("reason") if isinstance(details, Mapping) else None
    return (
        f"The document's content was purged on {record.fields['occurred_at']} (record "
        f"{record.seq}, {PURGED_TYPE}: {reason or 'no reason given'}). The document is therefore "
        "not in this bundle: the records prove the document by its SHA-256 (sealed_sha256, "
        "original_sha256)."
    )


def _checked(name: str, check: Callable[..., Finding], *args: Any) -> Finding:
    """``check``'s finding; one that crashed on what a bundle holds (a crafted bundle can hold
    anything) failed, with the error on one bounded line, and the other checks still run."""
    try:
        return check(*args)
    except RecursionError:
        return Finding(name, False, "could not be checked: its data is nested too deeply")
    except Exception as exc:
        return Finding(name, False, f"could not be checked ({_one_line(exc)})")


def _read_zip(zip_bytes: bytes) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(BytesIO(zip_bytes)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            if unpacked > MAX_UNPACKED:
                raise InputUnreadable(
                    f"Not a proof bundle: it unpacks to {unpacked} bytes (at most {MAX_UNPACKED})"
                )
            files = {name: archive.read(name) for name in archive.namelist()}
    except InputUnreadable:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise InputUnreadable(f"Not a proof bundle: not a readable ZIP file ({exc})") from None
    except Exception as exc:  # a crafted archive can make zipfile raise anything
        raise InputUnreadable(
            f"Not a proof bundle: not a readable ZIP file ({_one_line(exc)})"
        ) from None
    missing = [name for name in _REQUIRED if name not in files]
    if missing:
        raise InputUnreadable(f"Not a proof bundle: {', '.join(missing)} missing")
    return files


def _read_evidence(raw: bytes) -> tuple[dict[str, Any], list[BundledRecord]]:
    try:
        body = json.loads(raw)
        if not isinstance(body, dict) or body.get("format") != BUNDLE_FORMAT:
            raise InputUnreadable(f"{EVIDENCE} is not in the format {BUNDLE_FORMAT}")
        records = [parse_record(item) for item in body["records"]]
    except InputUnreadable:
        raise
    except RecursionError:
        raise InputUnreadable(f"{EVIDENCE} is malformed: nested too deeply") from None
    except Exception as exc:
        raise InputUnreadable(f"{EVIDENCE} is malformed: {_one_line(exc)}") from None
    return body, records


def _read_checkpoint(raw: bytes) -> BundledCheckpoint:
    try:
        return parse_checkpoint(raw)
    except RecursionError:
        raise InputUnreadable(f"{CHECKPOINT} is malformed: nested too deeply") from None
    except Exception as exc:
        raise InputUnreadable(f"{CHECKPOINT} is malformed: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    """``exc`` as ``Type: message`` on one line of at most ``_DETAIL_MAX`` characters."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:_DETAIL_MAX]


def _pdf_seal(check: str, data: bytes, trust_root: asn1_x509.Certificate) -> Finding:
    try:
        seal = validate_sealed_pdf(data, trust_root=trust_root)
    except PdfRejected as exc:
        return Finding(check, False, str(exc))
    if seal.ok:
        when = rfc3339(seal.signed_at) if seal.signed_at else "?"
        return Finding(check, True, f"intact, trusted, sealed by {seal.signer}, timestamped {when}")
    wrong = [
        label
        for label, good in (
            ("altered after sealing", seal.intact),
            ("signature invalid", seal.valid),
            ("does not chain to the trust root", seal.trusted),
            ("timestamp missing or invalid", seal.signed_at is not None and seal.timestamp_valid),
            (f"seal covers {seal.coverage}, not the entire file", seal.coverage == "ENTIRE_FILE"),
        )
        if not good
    ]
    return Finding(check, False, "; ".join(wrong))


def _detached_seal(
    name: str, document: bytes, seal: bytes | None, trust_root: asn1_x509.Certificate
) -> Finding:
    """The detached CMS seal ``<name>.p7s`` over the data document's bytes."""
    if seal is None:
        return Finding("document seal", False, f"{name}{SEAL_SUFFIX} is missing")
    try:
        checked = validate_detached(document, seal, trust_root=trust_root)
    except DetachedSealInvalid as exc:
        return Finding("document seal", False, _one_line(exc))
    if checked.ok:
        when = rfc3339(checked.signed_at) if checked.signed_at else "?"
        return Finding(
            "document seal",
            True,
            f"{name}{SEAL_SUFFIX}: intact, trusted, sealed by {checked.signer}, timestamped {when}",
        )
    wrong = [
        label
        for label, good in (
            (f"{name} altered after sealing", checked.intact),
            ("signature invalid", checked.valid),
            ("does not chain to the trust root", checked.trusted),
            ("timestamp missing or invalid", checked.timestamp_valid),
        )
        if not good
    ]
    return Finding("document seal", False, "; ".join(wrong))


def _document_hash(document: bytes, records: list[BundledRecord]) -> Finding:
    digest = hashlib.sha256(document).hexdigest()
    # Records without a document hash (none today) are signed like the others: not a failure.
    named = [r for r in records if r.fields["sealed_sha256"] is not None]
    if not named:
        return Finding("document hash", False, "no record names the sealed document's SHA-256")
    wrong = [r.seq for r in named if r.fields["sealed_sha256"] != digest]
    if wrong:
        return Finding("document hash", False, f"SHA-256 {digest} differs from records {wrong}")
    return Finding("document hash", True, f"SHA-256 {digest} is named by {len(named)} records")


def _original(document: bytes, body: Mapping[str, Any], records: list[BundledRecord]) -> Finding:
    """The seal is an incremental update: the office's original is a prefix of the sealed file."""
    hashes = {r.fields["original_sha256"] for r in records} - {None}
    size = (body.get("document") or {}).get("original_size")
    if len(hashes) != 1:
        return Finding("original document", False, f"records name {len(hashes)} originals")
    if not isinstance(size, int) or size < 1:
        return Finding("original document", False, f"{EVIDENCE} states no original_size")
    (expected,) = hashes
    if hashlib.sha256(document[:size]).hexdigest() != expected:
        return Finding("original document", False, f"no original with SHA-256 {expected} inside")
    return Finding("original document", True, f"the first {size} bytes hash to {expected}")


def _fingerprint(pem_bytes: bytes) -> str | None:
    try:
        return hashlib.sha256(load_trust_root(pem_bytes).dump()).hexdigest()
    except InputUnreadable:
        return None
