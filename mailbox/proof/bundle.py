"""Proof of delivery: the ZIP bundle an auditor verifies offline with the service's root
certificate alone (:mod:`mailbox.proof.check` verifies it).

The bundle holds the delivery's evidence records with their signatures and RFC 3161 tokens and
each one's inclusion proof (``evidence.json``), the newest signed checkpoint of the log that
covers them (``checkpoint.json``), the certificates, a human-readable receipt that is itself
PAdES-sealed, and a README saying how to verify all of it by hand. It proves the document by its
SHA-256. The sealed document itself (a PDF, or a JSON or XML data document with its detached
seal, ``document.json`` and ``document.json.p7s``) is in it only for a principal who may pick
the document up, and then the download is recorded exactly like a download of the document
(the first is the legal pickup): no document content leaves the service without a recorded access
(:func:`bundle_holds_document` decides, :data:`CONTENT_RULE` says it in words). Otherwise
building a bundle records no evidence; it only writes a checkpoint when the newest one does not
cover the delivery's records yet.
"""

from __future__ import annotations

import asyncio
import base64
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from io import BytesIO
from string import Template
from typing import Any

from mailbox.clock import now
from mailbox.config import TEMPLATES_DIR
from mailbox.deliveries import data_documents, rules
from mailbox.deliveries.inbox import DeliveryView, read_delivery
from mailbox.deliveries.legal_clock import LegalDate, explain
from mailbox.deliveries.pickup import record_handover
from mailbox.deliveries.retention import removed_notice
from mailbox.evidence import labels
from mailbox.evidence.checkpoints import checkpoint_covering, checkpoint_digest, inclusion_proofs
from mailbox.evidence.log import EvidenceType, canonical_fields
from mailbox.identity.policy import can_pick_up
from mailbox.identity.principal import Principal
from mailbox.models import Account, Delivery, Document, EvidenceCheckpoint, EvidenceRecord
from mailbox.proof.check import (
    BUNDLE_FORMAT,
    CERTIFICATES,
    CHECKPOINT,
    EVIDENCE,
    README,
    RECEIPT,
    document_name,
)
from mailbox.services import Services
from mailbox.signing.receipt import render_receipt
from mailbox.signing.records import cert_pem
from mailbox.signing.tsa import TimestampInvalid, token_gen_time
from mailbox.timefmt import human, rfc3339, rfc3339_or_none

__all__ = ["CONTENT_RULE", "ProofBundle", "build_bundle", "bundle_holds_document", "proof_contents"]

README_TEMPLATE = TEMPLATES_DIR / "receipt" / "proof_readme.txt"
RECEIPT_TITLE = "Proof of delivery"
VIA = "proof bundle"  # how a handover through a bundle is named in its evidence
CONTENT_RULE = (
    "The proof of delivery holds the sealed document (a PDF, or a JSON or XML document with "
    "its detached seal) only for the account's people, who may pick the document up, and then "
    "downloading it counts as picking the document up, exactly like downloading the document; "
    "for the office's dispatchers and auditors it proves the document by its SHA-256 and does "
    "not hold it."
)


def bundle_holds_document(principal: Principal, delivery: Delivery) -> bool:
    """Whether ``principal``'s proof bundle of ``delivery`` carries the sealed PDF: only for a
    principal who may pick it up, and only while its content can be handed over."""
    return can_pick_up(principal, delivery) and rules.content_available(delivery)


def proof_contents(principal: Principal, delivery: Delivery) -> str:
    """What the principal's proof bundle of ``delivery`` holds, in the words every page uses."""
    verifiable = (
        "signed and timestamped evidence and a sealed receipt, for anyone to verify offline "
        "with the service's root certificate"
    )
    if bundle_holds_document(principal, delivery):
        return (
            f"The sealed document with its {verifiable}. It holds the document, so downloading "
            "it counts as picking the document up, like downloading the document."
        )
    if delivery.content_purged_at is not None:
        return (
            f"The {verifiable}. The document's content was removed, so it proves the document "
            "by its SHA-256 and says when and why the content was removed."
        )
    return f"The {verifiable}. It proves the document by its SHA-256 and does not hold it."


@dataclass(frozen=True)
class ProofBundle:
    """A built bundle, and the access it recorded when it holds the document (None if not)."""

    content: bytes
    handover: EvidenceType | None


@dataclass(frozen=True)
class _Facts:
    """What one bundle states, read from the database in one session."""

    view: DeliveryView
    account_name: str
    records: list[EvidenceRecord]
    checkpoint: EvidenceCheckpoint
    proofs: dict[int, list[bytes]]  # by record seq: the inclusion proof in the checkpoint
    generated_at: datetime

    @property
    def legal_date(self) -> LegalDate:
        return explain(self.view.delivery, at=self.generated_at)

    @property
    def delivered(self) -> bool:
        d = self.view.delivery
        return d.picked_up_at is not None or d.deemed_delivered_at is not None


async def build_bundle(
    services: Services, principal: Principal, delivery_id: str, *, ip: str | None = None
) -> ProofBundle:
    """The proof-of-delivery ZIP of a delivery the principal may read: account grantees, and
    the office's dispatchers and auditors; :class:`NotFound` for anyone else. When it holds the
    document (:func:`bundle_holds_document`), the download is recorded as a handover once the
    bundle is built; a checkpoint is made if none covers the delivery's records yet."""
    async with services.db.session() as session:
        view, records = await read_delivery(
            session=session, principal=principal, delivery_id=delivery_id
        )
        account = await session.get(Account, view.delivery.account_id)
    checkpoint = await checkpoint_covering(services, max(r.seq for r in records))
    async with services.db.session() as session:
        proofs = await inclusion_proofs(
            session=session, checkpoint=checkpoint, seqs=[r.seq for r in records]
        )
    facts = _Facts(view, account.name if account else "", records, checkpoint, proofs, now())
    with_document = bundle_holds_document(principal, view.delivery)
    # Authenticated on read: an altered blob raises here and no bundle is built.
    document = seal = None
    if with_document:
        document = await asyncio.to_thread(services.blobs.get, view.document.sealed_sha256)
        if view.document.seal_sha256 is not None:
            seal = await asyncio.to_thread(services.blobs.get, view.document.seal_sha256)
    receipt = await asyncio.to_thread(
        render_receipt, RECEIPT_TITLE, _receipt_rows(facts), _receipt_events(records)
    )
    sealed_receipt = await services.sealing.seal(
        receipt, reason=f"Proof of delivery {delivery_id}", location=view.office.name
    )
    certificates = {
        CERTIFICATES[role]: cert_pem(getattr(services.keys, f"{role}_cert")).encode()
        for role in ("root", "evidence", "tsa", "seal")
    }
    content = await asyncio.to_thread(_zip, facts, document, seal, sealed_receipt, certificates)
    handover = None
    if with_document:
        # Last, once the bundle exists: a bundle that failed to build handed nothing over.
        handover = await record_handover(
            services, principal, delivery_id, view.document, ip=ip, via=VIA
        )
    return ProofBundle(content, handover)


def _zip(
    facts: _Facts,
    document: bytes | None,
    seal: bytes | None,
    receipt: bytes,
    certificates: dict[str, bytes],
) -> bytes:
    name = document_name(facts.view.document.media_type)
    parts = {
        README: _readme(facts.view.delivery.id).encode(),
        **({name: document} if document is not None else {}),
        **({data_documents.seal_filename(name): seal} if seal is not None else {}),
        EVIDENCE: _evidence_json(facts),
        CHECKPOINT: _checkpoint_json(facts.checkpoint),
        RECEIPT: receipt,
        **certificates,
    }
    stamp = facts.generated_at.timetuple()[:6]
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16  # readable once unzipped (the default is 0)
            archive.writestr(info, content)
    return buffer.getvalue()


def _evidence_json(facts: _Facts) -> bytes:
    view = facts.view
    d, doc, office = view.delivery, view.document, view.office
    body: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "delivery_id": d.id,
        "generated_at": rfc3339(facts.generated_at),
        "office": {"id": office.id, "code": office.code, "name": office.name},
        "account": {"id": d.account_id, "name": facts.account_name},
        "document": {
            "kind_code": doc.kind_code,
            "dossier_number": doc.dossier_number,
            "title": doc.title,
            "filename": doc.filename,
            "original_sha256": doc.original_sha256,
            "original_size": doc.original_size,
            "sealed_sha256": doc.sealed_sha256,
            "sealed_size": doc.sealed_size,
            "document_date": d.document_date.isoformat() if d.document_date else None,
            "media_type": doc.media_type,
            "seal_sha256": doc.seal_sha256,
        },
        "delivery": {
            "status": d.status,
            "available_at": rfc3339_or_none(d.available_at),
            "picked_up_at": rfc3339_or_none(d.picked_up_at),
            "deemed_due_at": rfc3339_or_none(d.deemed_due_at),
            "deemed_delivered_at": rfc3339_or_none(d.deemed_delivered_at),
            "legal_date": facts.legal_date.evidence(),
            "content_purged_at": rfc3339_or_none(d.content_purged_at),
            "paper_queued_at": rfc3339_or_none(d.paper_queued_at),
            "paper_reason_code": d.paper_reason_code,
            "paper_reason": d.paper_reason,
            "paper_posted_at": rfc3339_or_none(d.paper_posted_at),
            "paper_returned_at": rfc3339_or_none(d.paper_returned_at),
        },
        "encoding": {
            "record_hash": "SHA-256 of the JSON of the record's fields seq ... prev_hash, keys "
            "sorted, no whitespace, UTF-8",
            "signature": "ECDSA P-256 with SHA-256 over the 32 bytes of record_hash, DER, base64; "
            f"key in {CERTIFICATES['evidence']}",
            "timestamp_token": "RFC 3161 TimeStampToken (DER, base64) over record_hash",
            "leaf_index": "the record's leaf in the Merkle tree of the log: seq - 1",
            "inclusion_proof": "RFC 6962 audit path (hex, from the leaf's sibling up) from "
            f"record_hash to the root in {CHECKPOINT}",
        },
        "records": [_record(record, facts.proofs[record.seq]) for record in facts.records],
    }
    return json.dumps(body, indent=2, ensure_ascii=False).encode()


def _record(record: EvidenceRecord, proof: list[bytes]) -> dict[str, Any]:
    return {
        **canonical_fields(record),
        "record_hash": record.record_hash,
        "signature": base64.b64encode(record.signature).decode("ascii"),
        "timestamp_token": base64.b64encode(record.timestamp_token).decode("ascii"),
        "timestamp_gen_time": _gen_time(record.timestamp_token),
        "leaf_index": record.seq - 1,
        "inclusion_proof": [node.hex() for node in proof],
        # For people; not covered by record_hash (the type and details above are).
        "label": labels.label(record.type),
        "summary": labels.summary(record.type, record.details),
    }


def _checkpoint_json(checkpoint: EvidenceCheckpoint) -> bytes:
    body = {
        "size": checkpoint.seq,
        "root": checkpoint.root_hash,
        "created_at": rfc3339(checkpoint.created_at),
        "checkpoint_hash": checkpoint_digest(checkpoint).hex(),
        "signature": base64.b64encode(checkpoint.signature).decode("ascii"),
        "timestamp_token": base64.b64encode(checkpoint.timestamp_token).decode("ascii"),
        "timestamp_gen_time": _gen_time(checkpoint.timestamp_token),
        "encoding": {
            "root": "RFC 6962 Merkle tree hash of the record_hash (32 bytes) of the log's records "
            "1 to size in seq order: leaf = SHA-256(0x00 || record_hash), node = "
            "SHA-256(0x01 || left || right)",
            "checkpoint_hash": 'SHA-256 of the JSON {"created_at", "root", "size"}, keys '
            "sorted, no whitespace, UTF-8",
            "signature": "ECDSA P-256 with SHA-256 over the 32 bytes of checkpoint_hash, DER, "
            f"base64; key in {CERTIFICATES['evidence']}",
            "timestamp_token": "RFC 3161 TimeStampToken (DER, base64) over checkpoint_hash",
        },
    }
    return json.dumps(body, indent=2, ensure_ascii=False).encode()


def _gen_time(token: bytes) -> str | None:
    try:
        return rfc3339(token_gen_time(token))
    except TimestampInvalid:
        return None  # shown as missing; the verifier reports the token


def _receipt_rows(facts: _Facts) -> list[tuple[str, str]]:
    view = facts.view
    d, doc, office = view.delivery, view.document, view.office
    removed = removed_notice(d)
    return [
        ("Delivery", d.id),
        ("Office", f"{office.name} ({office.code})"),
        ("Addressee", f"{facts.account_name} ({d.account_id})"),
        ("Document kind", doc.kind_code),
        ("Dossier number", doc.dossier_number),
        ("Title", doc.title),
        *([("Date on the document", d.document_date.isoformat())] if d.document_date else []),
        *_hash_rows(doc),
        ("Status", d.status.replace("_", " ")),
        ("Made available", human(d.available_at) or "—"),
        ("Picked up", human(d.picked_up_at) or "—"),
        *_paper_rows(d),
        ("Legal delivery date", facts.legal_date.sentence),
        *([("Content", removed)] if removed else []),
        (
            "Evidence log checkpoint",
            f"The events below are among the first {facts.checkpoint.seq} records of the "
            f"service's evidence log, whose Merkle root {facts.checkpoint.root_hash} was signed "
            f"and timestamped on {human(facts.checkpoint.created_at)}: each event was in the "
            "log by then. That the list is complete is not shown by this checkpoint; the "
            "service's audit of its whole log checks it.",
        ),
        ("Receipt generated", human(facts.generated_at)),
        ("How to verify", f"See {README} in the proof bundle of this delivery."),
    ]


def _hash_rows(doc: Document) -> list[tuple[str, str]]:
    """The document's hashes, named for what it is."""
    if not data_documents.is_data(doc.media_type):
        return [
            ("SHA-256 of the original PDF", doc.original_sha256),
            ("SHA-256 of the sealed PDF", doc.sealed_sha256),
        ]
    words = data_documents.document_words(doc.media_type, doc.kind_code)
    return [
        ("Document", f"{words[:1].upper()}{words[1:]} ({doc.media_type}), with a detached seal"),
        ("SHA-256 of the document as sent", doc.original_sha256),
        (f"SHA-256 of the {words} as stored and sealed", doc.sealed_sha256),
    ]


def _paper_rows(d: Delivery) -> list[tuple[str, str]]:
    """The paper path of a delivery that went on paper: why, and what became of the letter."""
    if d.paper_queued_at is None:
        return []
    rows = [("Sent on paper", d.paper_reason or "—"), ("Handed to paper", human(d.paper_queued_at))]
    if d.paper_posted_at is not None:
        rows.append(("Letter posted", human(d.paper_posted_at)))
    if d.paper_returned_at is not None:
        rows.append(("Letter returned undeliverable", human(d.paper_returned_at)))
    return rows


def _receipt_events(records: list[EvidenceRecord]) -> list[tuple[str, str, str]]:
    return [
        (
            rfc3339(r.occurred_at),
            _event_words(r),
            r.actor + (f" from {r.actor_ip}" if r.actor_ip else ""),
        )
        for r in records
    ]


def _event_words(record: EvidenceRecord) -> str:
    """A receipt's event: its label, the ETSI type name, and what the record adds."""
    words = f"{labels.label(record.type)} ({record.type})"
    line = labels.summary(record.type, record.details)
    return f"{words}. {line}" if line else words


@cache
def _readme_template() -> Template:
    return Template(README_TEMPLATE.read_text(encoding="utf-8"))


def _readme(delivery_id: str) -> str:
    return _readme_template().substitute(delivery_id=delivery_id, format=BUNDLE_FORMAT)
