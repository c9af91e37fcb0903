"""Sending a transmission: the sending office's one act, which becomes the package's first hop.

The order is the dispatch's (:mod:`mailbox.deliveries.dispatch`), for the same reasons: check
the manifest, the offices and the documents in one short read; seal and store every document
and then the package document outside any transaction; then write the documents, the
transmission, its first hop's delivery (with its evidence and outbox rows), the hop, the
idempotency record and, when the next office is a hub, the message that has the hub receive
it, in ONE transaction. A refusal that reached us writes one SubmissionRejection record and
nothing else; blobs stored before a refusal or a failed transaction are harmless
(content-addressed, referenced by nothing).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.db import retry_transient
from mailbox.deliveries import data_documents
from mailbox.deliveries.dispatch import (
    IdempotencyClaim,
    Sealed,
    deliver,
    seal_data_document,
    seal_pdf,
)
from mailbox.deliveries.filenames import document_filename
from mailbox.errors import (
    Conflict,
    FieldError,
    InvalidDocument,
    InvalidRequest,
    MailboxError,
    NotFound,
)
from mailbox.evidence import log as evidence
from mailbox.evidence.log import EvidenceDraft, EvidenceType
from mailbox.formats.validation import check_documents, check_package
from mailbox.identity.admin import office_mailbox
from mailbox.ids import new_id
from mailbox.models import (
    Account,
    Document,
    IdempotencyRecord,
    Office,
    OutboxKind,
    OutboxMessage,
    Transmission,
    TransmissionDocument,
    TransmissionHop,
)
from mailbox.services import Services
from mailbox.transmissions.package import (
    PACKAGE_FILENAME,
    PACKAGE_SEAL_KIND,
    PackedDocument,
    kind_words,
    package_bytes,
    route_of,
)
from mailbox.transmissions.status import TransmissionView, load_view

__all__ = ["Sent", "TransmissionRequest", "send_transmission"]

log = logging.getLogger("mailbox.transmissions")


@dataclass(frozen=True)
class TransmissionRequest:
    """A package as the sending office sends it: the manifest's bytes, the documents by file
    name, and the hub to route it through (its code), if any."""

    office_id: str
    manifest: bytes
    files: Mapping[str, bytes]
    via: str | None = None

    def fingerprint(self) -> str:
        """Hash of everything that makes two requests the same transmission."""
        parts = [self.office_id, hashlib.sha256(self.manifest).hexdigest(), self.via or ""]
        parts += [
            f"{name}={hashlib.sha256(self.files[name]).hexdigest()}" for name in sorted(self.files)
        ]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Sent:
    """What sending answers: the transmission end to end, and whether it was created now
    (False when an Idempotency-Key replays an earlier one)."""

    view: TransmissionView
    created: bool


@dataclass(frozen=True)
class _Parties:
    """The offices of a transmission, read before sealing, and where its first hop goes."""

    sender: Office
    final: Office
    final_mailbox: Account
    hub: Office | None
    hub_mailbox: Account | None

    @property
    def route(self) -> list[str]:
        return route_of(self.sender.code, self.final.code, self.hub.code if self.hub else None)

    @property
    def first_stop(self) -> tuple[Office, Account]:
        if self.hub is not None and self.hub_mailbox is not None:
            return self.hub, self.hub_mailbox
        return self.final, self.final_mailbox


@dataclass(frozen=True)
class _Stored:
    """A document of the package, sealed and stored, with the id its row will have."""

    position: int
    entry: Mapping[str, Any]
    content: bytes
    sealed: Sealed
    document_id: str

    def packed(self) -> PackedDocument:
        return PackedDocument(
            file=self.entry["file"],
            role=self.entry["role"],
            media_type=self.entry["media_type"],
            original_sha256=hashlib.sha256(self.content).hexdigest(),
            sealed_sha256=self.sealed.sha256,
            seal_sha256=self.sealed.seal_sha256,
            document_id=self.document_id,
        )


async def send_transmission(
    services: Services,
    *,
    office_id: str,
    manifest: bytes,
    files: Mapping[str, bytes],
    via: str | None,
    actor: str,
    actor_ip: str | None = None,
    idempotency_key: str | None = None,
) -> Sent:
    """Send the package ``manifest`` + ``files`` from office ``office_id`` to the manifest's
    final recipient, through the hub ``via`` if given; or replay the transmission an earlier
    request with the same Idempotency-Key made (:class:`Conflict` for the same key with
    another request). A refusal raises its domain error after writing its
    SubmissionRejection record (named by the error's ``evidence_id``): a manifest with bad
    fields (each named), a sender that is not the sending office, an office without a mailbox
    (``final_recipient``, ``via``), a document that does not match its SHA-256
    (``documents[n].sha256``) or that cannot be sealed, a document over the upload limit."""
    request = TransmissionRequest(office_id, manifest, dict(files), (via or "").strip() or None)
    claim = None
    if idempotency_key is not None:
        claim = IdempotencyClaim(f"office:{office_id}", idempotency_key, request.fingerprint())

    async def read() -> Sent | tuple[dict[str, Any], _Parties]:
        async with services.db.session() as session:
            earlier = await _earlier_result(session, claim) if claim else None
            if earlier is not None:
                return earlier
            checked = check_package(request.manifest, today=now().date())
            parties = await _parties(session, request, checked)
        check_documents(checked, request.files)
        _check_sizes(checked, request.files, services.settings.upload_limit_bytes)
        return checked, parties

    checked: dict[str, Any] | None = None
    try:
        found = await retry_transient(read, what="transmission read")
        if isinstance(found, Sent):
            return found
        checked, parties = found
        ids = _Ids.new(len(checked["documents"]))
        stored = await _seal_documents(services, checked, request.files, parties.sender, ids)
        package = package_bytes(
            transmission_id=ids.transmission_id,
            manifest=checked,
            route=parties.route,
            documents=[s.packed() for s in stored],
        )
        sealed_package = await seal_data_document(
            services, package, data_documents.JSON, kind_code=PACKAGE_SEAL_KIND
        )
    except (InvalidRequest, InvalidDocument) as error:
        error.evidence_id = await record_rejection(
            services, request, error, actor=actor, actor_ip=actor_ip
        )
        raise
    attempted = False

    async def write() -> Sent:
        nonlocal attempted
        if attempted:
            # The last attempt's connection dropped, perhaps after its COMMIT.
            async with services.db.session() as session:
                view = await load_view(session=session, transmission_id=ids.transmission_id)
            if view is not None:
                return Sent(view, created=True)
        attempted = True
        async with services.db.write() as session:
            await _record(
                session=session,
                services=services,
                manifest=checked,
                parties=parties,
                stored=stored,
                package=(package, sealed_package),
                actor=actor,
                claim=claim,
                ids=ids,
            )
            view = await load_view(session=session, transmission_id=ids.transmission_id)
        assert view is not None
        return Sent(view, created=True)

    try:
        return await retry_transient(write, what="transmission")
    except IntegrityError:
        # The same Idempotency-Key committed while this request was sealing: its result wins.
        if claim is None:
            raise
        async with services.db.session() as session:
            earlier = await _earlier_result(session, claim)
        if earlier is None:
            raise
        return earlier


@dataclass(frozen=True)
class _Ids:
    """The ids of a transmission's rows, chosen before sealing: the package names them, and a
    later attempt of the write can tell whether an earlier one committed."""

    transmission_id: str
    document_ids: tuple[str, ...]
    package_id: str
    delivery_id: str

    @classmethod
    def new(cls, documents: int) -> _Ids:
        return cls(
            new_id("trn"),
            tuple(new_id("doc") for _ in range(documents)),
            new_id("doc"),
            new_id("dlv"),
        )


async def _earlier_result(session: AsyncSession, claim: IdempotencyClaim) -> Sent | None:
    record = (
        await session.exec(
            select(IdempotencyRecord).where(
                IdempotencyRecord.principal == claim.principal, IdempotencyRecord.key == claim.key
            )
        )
    ).one_or_none()
    if record is None:
        return None
    if record.request_hash != claim.fingerprint:
        raise Conflict(
            f"Idempotency-Key {claim.key!r} was already used for a different request",
            errors=[FieldError("Idempotency-Key", "reused with another body")],
        )
    view = await load_view(session=session, transmission_id=record.resource_id)
    if view is None:  # the key named something else than a transmission
        raise Conflict(
            f"Idempotency-Key {claim.key!r} was already used for a different request",
            errors=[FieldError("Idempotency-Key", "reused with another body")],
        )
    return Sent(view, created=False)


async def _parties(
    session: AsyncSession, request: TransmissionRequest, manifest: Mapping[str, Any]
) -> _Parties:
    """The sender, the final recipient and the hub with their mailboxes; one
    :class:`InvalidRequest` naming every field that names a wrong office."""
    sender = await session.get(Office, request.office_id)
    if sender is None:
        raise InvalidRequest(f"No office {request.office_id}")
    errors: list[FieldError] = []
    if manifest["sender"] != sender.code:
        errors.append(FieldError("sender", f"must be the sending office's code, {sender.code!r}"))
    final, final_mailbox = await _office_with_mailbox(
        session, manifest["final_recipient"], "final_recipient", errors
    )
    hub = hub_mailbox = None
    if request.via is not None:
        hub, hub_mailbox = await _office_with_mailbox(session, request.via, "via", errors)
        if hub is not None and hub.id == sender.id:
            errors.append(FieldError("via", "a hub is another office than the sender"))
        elif hub is not None and final is not None and hub.id == final.id:
            errors.append(FieldError("via", "a hub is another office than the final recipient"))
    if errors:
        raise InvalidRequest("The transmission cannot be routed", errors=errors)
    assert final is not None and final_mailbox is not None
    return _Parties(sender, final, final_mailbox, hub, hub_mailbox)


async def _office_with_mailbox(
    session: AsyncSession, code: str, field: str, errors: list[FieldError]
) -> tuple[Office | None, Account | None]:
    try:
        office, mailbox = await office_mailbox(session=session, office=code)
    except NotFound:
        errors.append(FieldError(field, f"no office {code!r}"))
        return None, None
    if mailbox is None:
        errors.append(
            FieldError(field, f"the office {office.code} has no mailbox to receive transmissions")
        )
    return office, mailbox


def _check_sizes(manifest: Mapping[str, Any], files: Mapping[str, bytes], limit: int) -> None:
    """Each document within the upload limit of a dispatch (413 naming the first too big)."""
    for n, entry in enumerate(manifest["documents"]):
        size = len(files[entry["file"]])
        if size > limit:
            detail = f"{entry['file']!r} is {size} bytes; the limit is {limit}"
            raise InvalidDocument(
                detail,
                reason="too_large",
                status=413,
                errors=[FieldError(f"documents[{n}].file", detail)],
            )


async def _seal_documents(
    services: Services,
    manifest: Mapping[str, Any],
    files: Mapping[str, bytes],
    sender: Office,
    ids: _Ids,
) -> list[_Stored]:
    """Seal and store each document (PDFs with the office's seal, data documents with a
    detached seal); no transaction is open. A refused document names its entry."""
    stored = []
    for n, entry in enumerate(manifest["documents"]):
        content = files[entry["file"]]
        try:
            if data_documents.is_data(entry["media_type"]):
                sealed = await seal_data_document(
                    services, content, entry["media_type"], kind_code=manifest["kind"]
                )
            else:
                sealed = await seal_pdf(
                    services, content, kind_code=manifest["kind"], office=sender
                )
        except InvalidDocument as error:
            error.errors = (FieldError(f"documents[{n}].file", error.detail),)
            raise
        stored.append(_Stored(n, entry, content, sealed, ids.document_ids[n]))
    return stored


async def _record(
    *,
    session: AsyncSession,
    services: Services,
    manifest: Mapping[str, Any],
    parties: _Parties,
    stored: list[_Stored],
    package: tuple[bytes, Sealed],
    actor: str,
    claim: IdempotencyClaim | None,
    ids: _Ids,
) -> None:
    """Write every row of a new transmission in the caller's transaction."""
    at = now()
    number = manifest["international_application_number"]
    kind = manifest["kind"]
    sender = parties.sender
    if claim is not None:
        # First, so that a retry racing this one fails here, before the evidence head is locked.
        session.add(claim.record(ids.transmission_id))
        await session.flush()
    documents = [
        Document(
            id=s.document_id,
            office_id=sender.id,
            kind_code=kind,
            dossier_number=number,
            title=f"{kind_words(kind)} {number} ({s.entry['role']})",
            filename=document_filename(s.entry["file"]),
            original_sha256=hashlib.sha256(s.content).hexdigest(),
            sealed_sha256=s.sealed.sha256,
            original_size=len(s.content),
            sealed_size=s.sealed.size,
            media_type=s.entry["media_type"],
            seal_sha256=s.sealed.seal_sha256,
            created_at=at,
        )
        for s in stored
    ]
    content, sealed = package
    package_document = Document(
        id=ids.package_id,
        office_id=sender.id,
        kind_code=kind,
        dossier_number=number,
        title=f"{kind_words(kind)} {number} (transmission package)",
        filename=PACKAGE_FILENAME,
        original_sha256=hashlib.sha256(content).hexdigest(),
        sealed_sha256=sealed.sha256,
        original_size=len(content),
        sealed_size=sealed.size,
        media_type=data_documents.JSON,
        seal_sha256=sealed.seal_sha256,
        created_at=at,
    )
    session.add_all([*documents, package_document])
    await session.flush()  # no ORM relationships: the documents must exist first
    transmission = Transmission(
        id=ids.transmission_id,
        sender_office_id=sender.id,
        final_office_id=parties.final.id,
        hub_office_id=parties.hub.id if parties.hub else None,
        international_application_number=number,
        kind=kind,
        sender_reference=manifest.get("sender_reference"),
        manifest=dict(manifest),
        package_document_id=package_document.id,
        route=parties.route,
        created_at=at,
    )
    session.add(transmission)
    await session.flush()
    session.add_all(
        TransmissionDocument(
            transmission_id=transmission.id,
            position=s.position,
            file=s.entry["file"],
            role=s.entry["role"],
            document_id=s.document_id,
        )
        for s in stored
    )
    office, account = parties.first_stop
    delivery, _ = await deliver(
        session=session,
        services=services,
        document=package_document,
        office=sender,
        account=account,
        actor=actor,
        delivery_id=ids.delivery_id,
        at=at,
        details={
            "document_id": package_document.id,
            "kind_code": kind,
            "dossier_number": number,
            "title": package_document.title,
            "media_type": data_documents.JSON,
            "transmission_id": transmission.id,
            "hop": 0,
            "route": parties.route,
        },
    )
    session.add(
        TransmissionHop(
            transmission_id=transmission.id,
            number=0,
            from_office_id=sender.id,
            to_office_id=office.id,
            delivery_id=delivery.id,
            delivered_at=delivery.available_at or at,
        )
    )
    if parties.hub is not None:
        session.add(forward_message(transmission.id, 0, delivery.id))
    await session.flush()


def forward_message(transmission_id: str, hop: int, delivery_id: str) -> OutboxMessage:
    """The outbox message that has the hub receive hop ``hop`` (and forward it)."""
    return OutboxMessage(
        kind=OutboxKind.TRANSMISSION_FORWARD,
        delivery_id=delivery_id,
        payload={"transmission_id": transmission_id, "hop": hop},
    )


async def record_rejection(
    services: Services,
    request: TransmissionRequest,
    error: MailboxError,
    *,
    actor: str,
    actor_ip: str | None,
) -> str:
    """Write the SubmissionRejection record for a refused transmission; return its id."""
    manifest = _readable(request.manifest)
    details: dict[str, Any] = {
        "office_id": request.office_id,
        "transmission": True,
        "via": (request.via or "")[:16] or None,
        **{
            name: str(manifest[name])[:64]
            for name in ("kind", "international_application_number", "sender", "final_recipient")
            if name in manifest
        },
        "reason": error.detail,
        "errors": [{"field": e.field, "message": e.message} for e in error.errors],
        "received_files": len(request.files),
        "received_bytes": len(request.manifest) + sum(len(c) for c in request.files.values()),
    }
    if isinstance(error, InvalidDocument):
        details["document_reason"] = error.reason
        details.update(error.evidence)
    log.info("transmission refused: %s", error.detail[:500], extra={"office_id": request.office_id})
    async with services.db.write() as session:
        record = await evidence.append(
            session,
            services.evidence,
            EvidenceDraft(EvidenceType.SUBMISSION_REJECTION, actor, actor_ip, details),
            delivery_id=None,
            original_sha256=hashlib.sha256(request.manifest).hexdigest(),
        )
        return record.id


def _readable(manifest: bytes) -> dict[str, Any]:
    """The manifest's top-level fields if it is a JSON object at all (for the rejection
    record), else nothing."""
    try:
        parsed = json.loads(manifest.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}
