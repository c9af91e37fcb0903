"""Recomputing the legal date from a proof bundle alone, offline: does the legal clock, given
the inputs recorded with each answer, give the same date and sentence again?

The bundle is verified first (:func:`mailbox.proof.check.verify_bundle`, against the auditor's
trust root): a bundle that fails a check is not trusted and nothing is recomputed. Then every
signed record that carries a ``legal_date`` (consignment, handover, deemed delivery) and the
bundle's summary (the date as known when the bundle was made, which the sealed receipt states)
are recomputed with :func:`mailbox.deliveries.legal_clock.inputs_from_evidence`, and the events
each one used are compared with the signed records' own times: a recorded answer that read an
event the signed timeline does not hold does not agree.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from asn1crypto import x509 as asn1_x509

from mailbox.deliveries.legal_clock import inputs_from_evidence
from mailbox.evidence.log import EvidenceType
from mailbox.proof.check import RECEIPT, BundleReport, read_bundle, verify_bundle
from mailbox.proof.check_records import BundledRecord

__all__ = ["COMPARED", "RecomputeReport", "Recomputed", "recompute_bundle"]

# What must be the same, recorded and recomputed.
COMPARED = ("delivered_on", "counts_from", "basis", "sentence")
# The signed record whose time is each event the legal clock reads.
_EVENT_RECORDS = {
    "available_at": EvidenceType.CONTENT_CONSIGNMENT.value,
    "picked_up_at": EvidenceType.CONTENT_HANDOVER.value,
    "paper_posted_at": EvidenceType.PAPER_POSTED.value,
}
SUMMARY = "the bundle's summary"
_PDF_STRING = re.compile(rb"\((?:[^()\\]|\\.)*\)")


@dataclass(frozen=True)
class Recomputed:
    """One recorded legal date and the legal clock's answer again; ``problems`` says what
    differs (empty: it agrees)."""

    where: str
    recorded: Mapping[str, Any]
    computed: Mapping[str, Any]
    problems: tuple[str, ...] = ()

    @property
    def agrees(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class RecomputeReport:
    """The bundle's verification and each recomputation; ``agrees`` only if the bundle
    verified, something was recomputed and every recomputation agrees."""

    delivery_id: str
    verification: BundleReport
    results: tuple[Recomputed, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def verified(self) -> bool:
        return self.verification.ok

    @property
    def agrees(self) -> bool:
        return self.verified and bool(self.results) and all(r.agrees for r in self.results)

    def as_dict(self) -> dict[str, Any]:
        return {
            "delivery_id": self.delivery_id,
            "verified": self.verified,
            "failed_checks": self.verification.failed(),
            "agrees": self.agrees,
            "recomputed": [
                {
                    "where": r.where,
                    "agrees": r.agrees,
                    "recorded": dict(r.recorded),
                    "computed": dict(r.computed),
                    "problems": list(r.problems),
                }
                for r in self.results
            ],
            "notes": list(self.notes),
        }


def recompute_bundle(zip_bytes: bytes, *, trust_root: asn1_x509.Certificate) -> RecomputeReport:
    """Verify the bundle against ``trust_root``, then recompute every legal date it records
    (:class:`~mailbox.proof.check.InputUnreadable` if it is no bundle at all). Blocking."""
    verification = verify_bundle(zip_bytes, trust_root=trust_root)
    if not verification.ok:
        return RecomputeReport(verification.delivery_id, verification)
    files, body, records = read_bundle(zip_bytes)
    timeline = _timeline(records)
    results = [
        _recompute(
            f"record {record.seq} ({record.fields['type']})",
            record.fields["details"]["legal_date"],
            timeline,
            at=_moment(record.fields["occurred_at"]),
        )
        for record in records
        if isinstance(record.fields.get("details"), Mapping)
        and "legal_date" in record.fields["details"]
    ]
    notes = []
    summary = (body.get("delivery") or {}).get("legal_date")
    if isinstance(summary, Mapping):
        result = _recompute(SUMMARY, summary, timeline, at=_moment(body.get("generated_at")))
        sentence = str(summary.get("sentence", ""))
        if sentence and sentence not in _pdf_text(files[RECEIPT]):
            result = Recomputed(
                result.where,
                result.recorded,
                result.computed,
                (*result.problems, "the sealed receipt does not state this sentence"),
            )
        results.append(result)
    else:
        notes.append(f"{SUMMARY} states no legal date")
    return RecomputeReport(verification.delivery_id, verification, tuple(results), tuple(notes))


def _recompute(
    where: str, recorded: Any, timeline: Mapping[str, datetime | None], *, at: datetime | None
) -> Recomputed:
    if not isinstance(recorded, Mapping):
        return Recomputed(where, {}, {}, ("the recorded legal date is not an object",))
    shown = {key: recorded.get(key) for key in ("rule", "zone", *COMPARED)}
    try:
        inputs = inputs_from_evidence(recorded, at=at)
        again = inputs.compute().evidence()
    except ValueError as exc:
        return Recomputed(where, shown, {}, (f"its inputs cannot be read: {exc}",))
    computed = {key: again.get(key) for key in COMPARED}
    problems = [
        f"{key}: recorded {recorded.get(key)!r}, recomputed {again.get(key)!r}"
        for key in COMPARED
        if recorded.get(key) != again.get(key)
    ]
    problems += _events_against_timeline(inputs.events, timeline)
    return Recomputed(where, shown, computed, tuple(problems))


def _events_against_timeline(events: Any, timeline: Mapping[str, datetime | None]) -> list[str]:
    """The events the recorded answer read that the signed records do not show."""
    problems = []
    for name, record_type in _EVENT_RECORDS.items():
        used = getattr(events, name)
        if used is None or name not in timeline:
            continue  # not read, or no signed record of that event in this bundle to compare
        signed = timeline[name]
        if signed != used:
            problems.append(
                f"it read {name} {used.isoformat()}, the signed {record_type} record says "
                f"{signed.isoformat() if signed else 'nothing'}"
            )
    if "document_date" in timeline:
        signed_date = timeline["document_date"]
        if events.document_date != signed_date:
            problems.append(
                f"it read the document date {events.document_date}, the signed "
                f"SubmissionAcceptance record states {signed_date}"
            )
    return problems


def _timeline(records: list[BundledRecord]) -> dict[str, Any]:
    """The times of the events the legal clock reads, as the signed records give them (only
    those whose record is in the bundle), and the document date the acceptance states."""
    found: dict[str, Any] = {}
    for name, record_type in _EVENT_RECORDS.items():
        first = next((r for r in records if r.fields["type"] == record_type), None)
        if first is not None:
            found[name] = _moment(first.fields["occurred_at"])
    accepted = next(
        (r for r in records if r.fields["type"] == EvidenceType.SUBMISSION_ACCEPTANCE.value), None
    )
    if accepted is not None and isinstance(accepted.fields.get("details"), Mapping):
        stated = accepted.fields["details"].get("document_date")
        found["document_date"] = date.fromisoformat(str(stated)) if stated else None
    return found


def _moment(text: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _pdf_text(pdf: bytes) -> str:
    """The text strings of a PDF's pages, joined by spaces and with runs of white space made
    one (a sentence wrapped over lines reads as one)."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        reader = PdfFileReader(io.BytesIO(pdf))
        parts: list[str] = []
        for page in reader.root["/Pages"]["/Kids"]:
            contents = page.get_object()["/Contents"].get_object()
            streams = contents if isinstance(contents, list) else [contents]
            for stream in streams:
                for raw in _PDF_STRING.findall(stream.get_object().data):
                    parts.append(re.sub(rb"\\(.)", rb"\1", raw[1:-1]).decode("latin-1"))
    except Exception:  # a receipt that cannot be read states nothing
        return ""
    return " ".join(" ".join(parts).split())
