"""Verifying a transmission's proof offline, with the service's root certificate alone.

Each hop's bundle is verified as any proof of delivery (:func:`mailbox.proof.check.verify_bundle`),
then the chain between them: every hop delivered the same package (the SHA-256 that
``transmission.json`` names, in each hop's signed records), each hop's acceptance names the
transmission and its hop number, hop n+1 was ``forwarded_from`` hop n's delivery, and each hop
into a hub carries a signed ReceiptAcknowledgement of that package. A package in the proof
must hash to that SHA-256 and carry a valid detached seal. ``transmission.json`` itself is
not signed: every fact the checks rely on is taken from the signed hop records and only
compared with it.

Pure: no database, no network, no service keys.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from io import BytesIO
from typing import Any

from asn1crypto import x509 as asn1_x509

from mailbox.evidence.log import EvidenceType
from mailbox.proof.check import (
    MAX_UNPACKED,
    BundleReport,
    InputUnreadable,
    Verdict,
    verify_bundle,
)
from mailbox.proof.check import read_bundle as read_hop_bundle
from mailbox.proof.check_records import BundledRecord, Finding
from mailbox.signing.detached import DetachedSealInvalid, validate_detached

__all__ = [
    "PACKAGE",
    "PACKAGE_SEAL",
    "TRANSMISSION",
    "TRANSMISSION_PROOF_FORMAT",
    "TransmissionReport",
    "hop_bundle_name",
    "verify_transmission_bundle",
]

TRANSMISSION_PROOF_FORMAT = "mailbox-transmission-proof/1"
TRANSMISSION = "transmission.json"
PACKAGE = "package.json"
PACKAGE_SEAL = "package.json.p7s"
_ACCEPTANCE = EvidenceType.SUBMISSION_ACCEPTANCE.value
_RECEIPT = EvidenceType.RECEIPT_ACKNOWLEDGEMENT.value


def hop_bundle_name(number: int) -> str:
    """Where hop ``number``'s proof of delivery lies in a transmission's proof."""
    return f"hops/{number}.zip"


@dataclass(frozen=True)
class TransmissionReport(Verdict):
    """Everything checked about a transmission's proof; ``ok`` only if every check passed."""

    transmission_id: str
    findings: tuple[Finding, ...]
    hops: tuple[BundleReport, ...]
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "transmission_id": self.transmission_id,
            "checks": [asdict(f) for f in self.findings],
            "hops": [h.as_dict() for h in self.hops],
            "notes": list(self.notes),
        }


def verify_transmission_bundle(
    data: bytes, *, trust_root: asn1_x509.Certificate
) -> TransmissionReport:
    """Check a transmission's proof against ``trust_root``; ``InputUnreadable`` if it is not
    one at all. Blocking and CPU-bound."""
    files = _read_zip(data)
    summary = _summary(files)
    package_sha256 = str(summary.get("package_sha256"))
    route = summary.get("route") if isinstance(summary.get("route"), list) else []
    transmission_id = str(summary.get("transmission_id"))
    findings: list[Finding] = []
    reports: list[BundleReport] = []
    chain: list[tuple[int, str, list[BundledRecord]]] = []
    listed = summary.get("hops") if isinstance(summary.get("hops"), list) else []
    for n, hop in enumerate(listed):
        name = hop_bundle_name(n)
        content = files.get(name)
        if content is None:
            findings.append(Finding(f"hop {n} bundle", False, f"{name} is missing"))
            continue
        if hashlib.sha256(content).hexdigest() != hop.get("bundle_sha256"):
            findings.append(Finding(f"hop {n} bundle", False, f"{name} is not the bundle listed"))
        try:
            report = verify_bundle(content, trust_root=trust_root)
            _, body, records = read_hop_bundle(content)
        except InputUnreadable as exc:
            findings.append(Finding(f"hop {n} bundle", False, str(exc)))
            continue
        reports.append(report)
        findings.append(
            Finding(
                f"hop {n} bundle",
                report.ok,
                "verified" if report.ok else f"failed: {', '.join(report.failed())}",
            )
        )
        chain.append((n, str(body.get("delivery_id")), records))
    if not chain:
        findings.append(Finding("hops", False, "the proof holds no hop"))
    findings += _chain(chain, transmission_id, package_sha256, len(route))
    findings += _package(files, package_sha256, transmission_id, route, trust_root)
    notes = []
    if len(chain) < len(route) - 1:
        notes.append(
            f"{len(chain)} of the route's {max(len(route) - 1, 0)} hops have happened so far "
            "(the package is held by its hub, or on its way)."
        )
    if PACKAGE not in files:
        notes.append(
            f"{PACKAGE} is not in this proof (it is given only to those who may pick the "
            "package up): the hops prove the package by its SHA-256."
        )
    return TransmissionReport(transmission_id, tuple(findings), tuple(reports), tuple(notes))


def _chain(
    chain: list[tuple[int, str, list[BundledRecord]]],
    transmission_id: str,
    package_sha256: str,
    route_length: int,
) -> list[Finding]:
    """The hops form one chain carrying one package (see the module docstring)."""
    findings = []
    previous: str | None = None
    for n, delivery_id, records in chain:
        problems = []
        hashes = {r.fields.get("sealed_sha256") for r in records} - {None}
        if hashes != {package_sha256}:
            problems.append(f"its records prove {sorted(map(str, hashes))}, not the package")
        acceptance = next((r for r in records if r.fields.get("type") == _ACCEPTANCE), None)
        details = _details(acceptance)
        if acceptance is None:
            problems.append("no SubmissionAcceptance")
        elif details.get("transmission_id") != transmission_id or details.get("hop") != n:
            problems.append("its acceptance names another transmission or hop")
        elif n > 0 and details.get("forwarded_from") != previous:
            problems.append(f"its acceptance is not forwarded_from hop {n - 1}'s delivery")
        into_hub = n < route_length - 2
        if into_hub:
            receipt = next((r for r in records if r.fields.get("type") == _RECEIPT), None)
            got = _details(receipt)
            if receipt is None:
                problems.append("no ReceiptAcknowledgement by the hub")
            elif got.get("package_sha256") != package_sha256 or not got.get("documents_matched"):
                problems.append("the hub's ReceiptAcknowledgement is not of this package")
        findings.append(
            Finding(
                f"hop {n} chain",
                not problems,
                "; ".join(problems)
                or "carries the package"
                + (", forwarded from the hop before" if n else "")
                + (", receipt acknowledged by the hub" if into_hub else ""),
            )
        )
        previous = delivery_id
    return findings


def _package(
    files: Mapping[str, bytes],
    package_sha256: str,
    transmission_id: str,
    route: list[Any],
    trust_root: asn1_x509.Certificate,
) -> list[Finding]:
    package = files.get(PACKAGE)
    if package is None:
        return []
    findings = [
        Finding(
            "package hash",
            hashlib.sha256(package).hexdigest() == package_sha256,
            f"SHA-256 of {PACKAGE} against the one every hop proves",
        )
    ]
    try:
        body = json.loads(package)
        same = body.get("transmission_id") == transmission_id and body.get("route") == route
    except (ValueError, AttributeError):
        same = False
    findings.append(Finding("package route", same, "names this transmission and its route"))
    seal = files.get(PACKAGE_SEAL)
    if seal is None:
        return [*findings, Finding("package seal", False, f"{PACKAGE_SEAL} is missing")]
    try:
        checked = validate_detached(package, seal, trust_root=trust_root)
        findings.append(
            Finding("package seal", checked.ok, f"detached seal by {checked.signer or '?'}")
        )
    except DetachedSealInvalid as exc:
        findings.append(Finding("package seal", False, str(exc)[:300]))
    return findings


def _details(record: BundledRecord | None) -> Mapping[str, Any]:
    details = record.fields.get("details") if record is not None else None
    return details if isinstance(details, Mapping) else {}


def _summary(files: Mapping[str, bytes]) -> dict[str, Any]:
    try:
        summary = json.loads(files[TRANSMISSION])
    except (KeyError, ValueError):
        raise InputUnreadable(f"Not a transmission proof: no readable {TRANSMISSION}") from None
    if not isinstance(summary, dict) or summary.get("format") != TRANSMISSION_PROOF_FORMAT:
        raise InputUnreadable(f"{TRANSMISSION} is not in the format {TRANSMISSION_PROOF_FORMAT}")
    return summary


def _read_zip(data: bytes) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_UNPACKED:
                raise InputUnreadable("Not a transmission proof: it unpacks to too many bytes")
            return {name: archive.read(name) for name in archive.namelist()}
    except InputUnreadable:
        raise
    except Exception as exc:  # a crafted archive can make zipfile raise anything
        raise InputUnreadable(f"Not a transmission proof: not a readable ZIP ({exc})") from None
