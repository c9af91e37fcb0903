"""Dispatch: an office serves a PDF on an account.

The order matters for "nothing lost, nothing half-written": validate, read the parties (and an
earlier result of the same Idempotency-Key) in one short read, seal (off the event loop, outside
any transaction), store the encrypted blob, then write document, delivery, evidence, outbox and
idempotency rows in ONE transaction, whose rows are also the answer (nothing is read again). A
blob stored before a failed transaction is harmless: it is content-addressed and referenced by
nothing. Every refused dispatch that reached us leaves one SubmissionRejection record and
nothing else.

Our own faults are never the sender's: a blob store that is full or cannot be written raises
StorageFull (507) or StorageUnavailable (503) before any row is written, and leaves no file. A
lost database connection is retried here, in a fresh transaction (:func:`retry_transient`),
before anything is answered. The ids of the document and the delivery are chosen once, before
the first attempt: when the connection drops during COMMIT nobody knows whether the commit
happened, so each further attempt first looks for the delivery by its id and answers from it
if it is there. A dispatch without an Idempotency-Key is thus never written twice by our
retries (a client's own retry after an answer it did not get still needs the key). What still
fails is DatabaseUnavailable (503 with Retry-After).

Sessions: one read, one write; a refusal adds the write of its rejection record, and a retry
that lost the race for its Idempotency-Key adds one read of the winner's result; each lost
connection adds one read and one write.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.db import retry_transient
from mailbox.deliveries import data_documents, postal, rules
from mailbox.deliveries.clock_rules import calendar_of, clock_rule_for
from mailbox.deliveries.events import enqueue
from mailbox.deliveries.filenames import document_filename
from mailbox.deliveries.inbox import DeliveryView, delivery_view, timeline
from mailbox.errors import Conflict, FieldError, InvalidDocument, InvalidRequest, MailboxError
from mailbox.evidence import log as evidence
from mailbox.evidence.log import EvidenceDraft, EvidenceType
from mailbox.ids import new_id
from mailbox.metrics import DISPATCHES, SEAL_SECONDS
from mailbox.models import (
    Account,
    Delivery,
    DeliveryStatus,
    Document,
    EvidenceRecord,
    IdempotencyRecord,
    Office,
)
from mailbox.services import Services
from mailbox.signing.active_content import ActiveContentReport
from mailbox.signing.seal import PdfRejected

__all__ = [
    "DispatchRequest",
    "Dispatched",
    "IdempotencyClaim",
    "Sealed",
    "deliver",
    "dispatch",
    "document_date_error",
    "record_rejection",
    "seal_data_document",
    "seal_pdf",
    "validate",
]

log = logging.getLogger("mailbox.deliveries.dispatch")
# Longest refusal reason repeated in a log line.
LOG_DETAIL_MAX = 500
KIND_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
DOSSIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./-]{0,63}$")
DOCUMENT_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# How far ahead of today (UTC) a document may be dated: an office east of UTC dates its
# documents by its own calendar, which may already show tomorrow.
DOCUMENT_DATE_AHEAD = timedelta(days=1)


@dataclass(frozen=True)
class DispatchRequest:
    """One document for one account, as an office sends it: the account by its id, or, for a
    recipient without an account, a postal address (JSON text, see
    :mod:`mailbox.deliveries.postal`); exactly one of the two."""

    office_id: str
    recipient_account_id: str
    kind_code: str
    dossier_number: str
    title: str
    filename: str
    pdf: bytes
    recipient_postal_address: str = ""
    # What the file is (mailbox.deliveries.data_documents): a PDF, or a JSON or XML data
    # document, stored and sealed with a detached seal.
    media_type: str = data_documents.PDF
    # The date the document bears (ISO 8601, ``2026-11-26``), as the office states it; read by
    # legal-clock rules that count from it. Checked by :func:`validate`.
    document_date: str | None = None

    @cached_property
    def pdf_sha256(self) -> str:
        return hashlib.sha256(self.pdf).hexdigest()

    @property
    def document_day(self) -> date | None:
        """The stated document date, once :func:`validate` accepted it."""
        return date.fromisoformat(self.document_date) if self.document_date else None

    def fingerprint(self) -> str:
        """Hash of everything that makes two requests the same dispatch."""
        parts = [
            self.office_id,
            self.recipient_account_id,
            self.kind_code,
            self.dossier_number,
            self.title,
            self.pdf_sha256,
        ]
        # Only when stated: the keys of dispatches made before these fields stay the same.
        if self.recipient_postal_address:
            parts.append(self.recipient_postal_address)
        if self.document_date:
            parts.append(self.document_date)
        if self.media_type != data_documents.PDF:
            parts.append(self.media_type)
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def document_date_error(value: str | None, *, at: datetime) -> str | None:
    """Why ``value`` is no acceptable document date at ``at`` (``None`` if it is, or is not
    stated): an ISO date (``YYYY-MM-DD``), not later than the day after ``at`` (UTC). An empty
    value is no date: a field sent empty is refused, not taken for one left out."""
    if value is None:
        return None
    try:
        if not DOCUMENT_DATE.match(value):
            raise ValueError
        stated = date.fromisoformat(value)
    except ValueError:
        return "an ISO 8601 date, YYYY-MM-DD (e.g. 2026-11-26)"
    latest = (at + DOCUMENT_DATE_AHEAD).date()
    if stated > latest:
        return f"may not be later than {latest.isoformat()} (a document is not dated ahead)"
    return None


def validate(request: DispatchRequest, *, upload_limit: int) -> None:
    """Raise :class:`InvalidRequest` naming every bad field, or InvalidDocument for the file."""
    errors: list[FieldError] = []
    dated = document_date_error(request.document_date, at=now())
    if dated is not None:
        errors.append(FieldError("document_date", dated))
    if not KIND_CODE.match(request.kind_code):
        errors.append(FieldError("kind_code", "1-32 letters, digits, '.', '_' or '-'"))
    if not DOSSIER.match(request.dossier_number.strip()):
        errors.append(FieldError("dossier_number", "1-64 letters, digits, spaces, '.', '/', '-'"))
    if not request.title.strip() or len(request.title) > 500:
        errors.append(FieldError("title", "must be 1-500 characters"))
    errors.extend(_recipient_problems(request))
    if not request.pdf:
        errors.append(FieldError("file", "a file is required (a PDF, or a JSON or XML document)"))
    if request.media_type not in data_documents.MEDIA_TYPES:
        errors.append(FieldError("media_type", f"one of {', '.join(data_documents.MEDIA_TYPES)}"))
    if errors:
        raise InvalidRequest("The dispatch metadata is invalid", errors=errors)
    if len(request.pdf) > upload_limit:
        raise InvalidDocument(
            f"The file is {len(request.pdf)} bytes; the limit is {upload_limit}",
            reason="too_large",
            status=413,
        )


def _recipient_problems(request: DispatchRequest) -> list[FieldError]:
    """What is wrong with the recipient: exactly one of an account id and a postal address,
    the address checked field by field."""
    by_account = bool(request.recipient_account_id.strip())
    by_post = bool(request.recipient_postal_address.strip())
    if by_account and by_post:
        both = "give either recipient_account_id or recipient_postal_address, not both"
        return [FieldError("recipient_account_id", both), FieldError(postal.FIELD, both)]
    if not by_account and not by_post:
        return [
            FieldError(
                "recipient_account_id",
                "is required (or recipient_postal_address, for a recipient without an account)",
            )
        ]
    if by_post:
        try:
            postal.parse_postal_address(request.recipient_postal_address)
        except InvalidRequest as bad:
            return list(bad.errors)
    return []


async def record_rejection(
    services: Services,
    request: DispatchRequest,
    error: MailboxError,
    *,
    actor: str,
    actor_ip: str | None,
) -> str:
    """Write the SubmissionRejection record for a refused dispatch; return its id."""
    details = {
        "office_id": request.office_id,
        "recipient_account_id": request.recipient_account_id,
        # Not the address itself: whether one was given is enough to explain the refusal.
        "recipient_postal_address_given": bool(request.recipient_postal_address.strip()),
        "kind_code": request.kind_code[:32],
        "dossier_number": request.dossier_number[:64],
        **({"document_date": request.document_date[:32]} if request.document_date else {}),
        "reason": error.detail,
        "errors": [{"field": e.field, "message": e.message} for e in error.errors],
        "received_bytes": len(request.pdf),
    }
    if request.media_type != data_documents.PDF:
        details["media_type"] = request.media_type[:64]
    if isinstance(error, InvalidDocument):
        details["document_reason"] = error.reason
        details.update(error.evidence)
        # One bounded line: the parser's complaint is capped where it is made.
        log.info(
            "dispatch refused (%s): %s",
            error.reason,
            error.detail[:LOG_DETAIL_MAX],
            extra={"office_id": request.office_id},
        )
    async with services.db.write() as session:
        record = await evidence.append(
            session,
            services.evidence,
            EvidenceDraft(EvidenceType.SUBMISSION_REJECTION, actor, actor_ip, details),
            delivery_id=None,
            original_sha256=request.pdf_sha256,
        )
        return record.id


@dataclass(frozen=True)
class Dispatched:
    """What a dispatch answers: the delivery as its office sees it, with its evidence timeline,
    and whether it was created now (False when an Idempotency-Key replays an earlier one)."""

    view: DeliveryView
    timeline: list[EvidenceRecord]
    created: bool

    @property
    def delivery(self) -> Delivery:
        return self.view.delivery


@dataclass(frozen=True)
class IdempotencyClaim:
    """An Idempotency-Key as one sender used it, and the fingerprint of the request it named."""

    principal: str
    key: str
    fingerprint: str

    def reused(self) -> Conflict:
        """The refusal of a key already used for another request."""
        return Conflict(
            f"Idempotency-Key {self.key!r} was already used for a different request",
            errors=[FieldError("Idempotency-Key", "reused with another body")],
        )

    async def earlier(self, session: AsyncSession) -> str | None:
        """The id of what an earlier request with this key created; None when the key is new;
        :class:`Conflict` when it named another request."""
        record = (
            await session.exec(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.principal == self.principal, IdempotencyRecord.key == self.key
                )
            )
        ).one_or_none()
        if record is None:
            return None
        if record.request_hash != self.fingerprint:
            raise self.reused()
        return record.resource_id

    def record(self, resource_id: str) -> IdempotencyRecord:
        return IdempotencyRecord(
            principal=self.principal,
            key=self.key,
            request_hash=self.fingerprint,
            resource_id=resource_id,
        )


@dataclass(frozen=True)
class _Parties:
    """The sender and the addressee of a dispatch, read before sealing. A recipient given by
    postal address has ``address`` and, the first time, no addressee yet (``account`` None:
    it is made in the dispatch's transaction)."""

    office: Office
    account: Account | None
    address: postal.PostalAddress | None = None


@dataclass(frozen=True)
class _Sealed:
    """The sealed document as stored: its blob id (the SHA-256 of the stored bytes) and size;
    for a PDF the active content it carries (found, and allowed by the office's policy), for a
    data document the blob id of its detached seal."""

    sha256: str
    size: int
    active_content: ActiveContentReport | None = None
    seal_sha256: str | None = None


async def dispatch(
    services: Services,
    request: DispatchRequest,
    *,
    actor: str,
    actor_ip: str | None = None,
    idempotency_key: str | None = None,
) -> Dispatched:
    """Serve ``request``: seal, store and deliver it (or queue it for paper), or replay the
    earlier dispatch of the same Idempotency-Key. A refused request raises its domain error
    after writing its SubmissionRejection record (named by the error's ``evidence_id``).
    Each outcome is counted (``mailbox_dispatches_total``)."""
    try:
        dispatched = await _dispatch(
            services, request, actor=actor, actor_ip=actor_ip, idempotency_key=idempotency_key
        )
    except MailboxError:
        DISPATCHES.labels(outcome="rejected").inc()
        raise
    except Exception:
        DISPATCHES.labels(outcome="failed").inc()
        raise
    DISPATCHES.labels(outcome=_outcome(dispatched)).inc()
    return dispatched


def _outcome(dispatched: Dispatched) -> str:
    if not dispatched.created:
        return "replayed"
    return "paper" if dispatched.delivery.status == DeliveryStatus.PAPER_QUEUED else "delivered"


async def _dispatch(
    services: Services,
    request: DispatchRequest,
    *,
    actor: str,
    actor_ip: str | None,
    idempotency_key: str | None,
) -> Dispatched:
    claim = None
    if idempotency_key is not None:
        claim = IdempotencyClaim(
            f"office:{request.office_id}", idempotency_key, request.fingerprint()
        )

    async def read() -> Dispatched | _Parties:
        async with services.db.session() as session:
            earlier = await _earlier_result(session, claim) if claim else None
            if earlier is not None:
                return earlier
            validate(request, upload_limit=services.settings.upload_limit_bytes)
            return await _parties(session, request)

    try:
        found = await retry_transient(read, what="dispatch read")
        if isinstance(found, Dispatched):
            return found
        parties = found
        sealed = await _seal_and_store(services, request, parties.office)
    except (InvalidRequest, InvalidDocument) as error:
        error.evidence_id = await record_rejection(
            services, request, error, actor=actor, actor_ip=actor_ip
        )
        raise
    ids = _RowIds(document_id=new_id("doc"), delivery_id=new_id("dlv"))
    attempted = False

    async def write() -> Dispatched:
        nonlocal attempted
        if attempted:
            # The connection of the last attempt dropped: perhaps during COMMIT, after it.
            async with services.db.session() as session:
                written = await _written(session, ids.delivery_id)
            if written is not None:
                log.warning(
                    "dispatch committed before its connection was lost; answered from its rows",
                    extra={"delivery_id": ids.delivery_id, "office_id": request.office_id},
                )
                return written
        attempted = True
        async with services.db.write() as session:
            view, records = await _record(
                session=session,
                services=services,
                request=request,
                parties=parties,
                sealed=sealed,
                actor=actor,
                claim=claim,
                ids=ids,
            )
        return Dispatched(view, records, created=True)

    try:
        return await retry_transient(write, what="dispatch")
    except IntegrityError:
        # The same Idempotency-Key committed while this request was sealing: its result wins.
        if claim is None:
            raise
        earlier = await retry_transient(
            lambda: _read_earlier(services, claim), what="dispatch replay"
        )
        if earlier is None:
            raise
        return earlier


# The sealed form of a document as stored (public for the other senders of documents).
Sealed = _Sealed


async def _read_earlier(services: Services, claim: IdempotencyClaim) -> Dispatched | None:
    async with services.db.session() as session:
        return await _earlier_result(session, claim)


@dataclass(frozen=True)
class _RowIds:
    """The ids a dispatch gives its document and delivery, chosen before its first attempt so
    that a later attempt can tell whether an earlier one committed."""

    document_id: str
    delivery_id: str


async def _written(session: AsyncSession, delivery_id: str) -> Dispatched | None:
    """The delivery an earlier attempt of this dispatch committed, or None."""
    if await session.get(Delivery, delivery_id) is None:
        return None
    view = await delivery_view(session=session, delivery_id=delivery_id)
    return Dispatched(view, await timeline(session=session, delivery_id=delivery_id), True)


async def _earlier_result(session: AsyncSession, claim: IdempotencyClaim) -> Dispatched | None:
    """The earlier dispatch ``claim``'s key named, as it stands now; None when the key is new,
    :class:`Conflict` when it named another request."""
    delivery_id = await claim.earlier(session)
    if delivery_id is None:
        return None
    view = await delivery_view(session=session, delivery_id=delivery_id)
    return Dispatched(view, await timeline(session=session, delivery_id=view.delivery.id), False)


async def _parties(session: AsyncSession, request: DispatchRequest) -> _Parties:
    office = await session.get(Office, request.office_id)
    if office is None:
        raise InvalidRequest(f"No office {request.office_id}")
    if request.recipient_postal_address.strip():
        address = postal.parse_postal_address(request.recipient_postal_address)
        found = await postal.find_addressee(session=session, office_id=office.id, address=address)
        return _Parties(office, found, address)
    account = await session.get(Account, request.recipient_account_id)
    if account is None:
        raise InvalidRequest(
            f"No account {request.recipient_account_id}",
            errors=[FieldError("recipient_account_id", "no such account")],
        )
    return _Parties(office, account)


async def _seal_and_store(services: Services, request: DispatchRequest, office: Office) -> _Sealed:
    """Seal the document in the sealing pool and store it encrypted; no transaction is open."""
    if data_documents.is_data(request.media_type):
        return await seal_data_document(
            services, request.pdf, request.media_type, kind_code=request.kind_code
        )
    return await seal_pdf(services, request.pdf, kind_code=request.kind_code, office=office)


async def seal_pdf(services: Services, pdf: bytes, *, kind_code: str, office: Office) -> _Sealed:
    """Seal a PDF with the office's seal in the sealing pool (its active content allowed only
    where the office's policy allows it) and store it encrypted; no transaction is open. A PDF
    the seal refuses raises :class:`InvalidDocument` saying why (and what active content was
    found). A dispatch seals its one document with it, a transmission each PDF of its
    package."""
    try:
        with SEAL_SECONDS.time():
            sealed = await services.sealing.seal_document(
                pdf,
                reason=f"Official {kind_code} of {office.name}",
                location=office.code,
                active_content="allow" if office.active_content == "allow" else "reject",
            )
    except PdfRejected as exc:
        found = {"active_content": exc.active_content.as_evidence()} if exc.active_content else {}
        raise InvalidDocument(str(exc), reason=exc.reason, evidence=found) from None
    blob_id = await asyncio.to_thread(services.blobs.put, sealed.pdf)
    return _Sealed(blob_id, len(sealed.pdf), sealed.active_content)


async def seal_data_document(
    services: Services, content: bytes, media_type: str, *, kind_code: str
) -> _Sealed:
    """Check a data document (:func:`data_documents.data_content`), seal what is to be stored
    with a detached seal in the sealing pool, and store both encrypted; no transaction is
    open. The document's blob goes first: a seal is never stored without it."""
    stored = data_documents.data_content(
        content, media_type, kind_code=kind_code, today=now().date()
    )
    with SEAL_SECONDS.time():
        seal = await services.sealing.seal_data(stored)
    blob_id = await asyncio.to_thread(services.blobs.put, stored)
    seal_id = await asyncio.to_thread(services.blobs.put, seal)
    return _Sealed(blob_id, len(stored), seal_sha256=seal_id)


async def _record(
    *,
    session: AsyncSession,
    services: Services,
    request: DispatchRequest,
    parties: _Parties,
    sealed: _Sealed,
    actor: str,
    claim: IdempotencyClaim | None,
    ids: _RowIds,
) -> tuple[DeliveryView, list[EvidenceRecord]]:
    """Write the document, the delivery, its evidence, its outbox rows and the idempotency
    record in the caller's transaction; return the delivery's view and timeline."""
    at = now()
    office, account = parties.office, parties.account
    if account is None:
        assert parties.address is not None
        account = await postal.postal_addressee(
            session=session, office_id=office.id, address=parties.address
        )
    document = Document(
        id=ids.document_id,
        office_id=office.id,
        kind_code=request.kind_code,
        dossier_number=request.dossier_number.strip(),
        title=request.title.strip(),
        filename=document_filename(request.filename),
        original_sha256=request.pdf_sha256,
        sealed_sha256=sealed.sha256,
        original_size=len(request.pdf),
        sealed_size=sealed.size,
        media_type=request.media_type,
        seal_sha256=sealed.seal_sha256,
    )
    if claim is not None:
        # First, so that a retry racing this one fails here, before the evidence head is locked.
        session.add(claim.record(ids.delivery_id))
        await session.flush()
    session.add(document)
    await session.flush()  # no ORM relationships: the document row must exist first
    accepted = {
        "document_id": document.id,
        "kind_code": request.kind_code,
        "dossier_number": document.dossier_number,
        "title": document.title,
    }
    if request.document_day is not None:
        accepted["document_date"] = request.document_day.isoformat()
    if request.media_type != data_documents.PDF:
        accepted["media_type"] = request.media_type
    if request.filename and request.filename != document.filename:
        # The name as the sender gave it is evidence; only the cleaned name is ever shown.
        accepted["filename_received"] = request.filename
    found = sealed.active_content
    if found is not None and (found or not found.complete):
        # Allowed by the office's policy, and on record: what the document can do when opened.
        accepted["active_content"] = found.as_evidence()
    delivery, records = await deliver(
        session=session,
        services=services,
        document=document,
        office=office,
        account=account,
        actor=actor,
        delivery_id=ids.delivery_id,
        at=at,
        details=accepted,
        document_date=request.document_day,
    )
    return DeliveryView(delivery, document, office), records


async def deliver(
    *,
    session: AsyncSession,
    services: Services,
    document: Document,
    office: Office,
    account: Account,
    actor: str,
    delivery_id: str,
    at: datetime,
    details: dict,
    document_date: date | None = None,
) -> tuple[Delivery, list[EvidenceRecord]]:
    """Deliver a stored document from ``office`` into ``account``'s mailbox, in the caller's
    transaction: the delivery row, its SubmissionAcceptance (saying ``details``), then its
    consignment, or its relay to paper where the one paper rule says so, and the follow-up
    work either causes. A dispatch delivers the document it has just sealed; a hub forwarding
    a transmission delivers the package it received to the next office."""
    delivery = Delivery(
        id=delivery_id,
        document_id=document.id,
        account_id=account.id,
        office_id=office.id,
        dossier_number=document.dossier_number,
        submitted_at=at,
        document_date=document_date,
    )
    session.add(delivery)
    drafts = [rules.accept(delivery, actor=actor, details=details)]
    paper = rules.who_gets_paper(account, office, document.kind_code)
    if paper is None:
        rule = await clock_rule_for(
            session=session,
            office=office,
            kind_code=document.kind_code,
            default_days=_deemed_days(services, office),
        )
        drafts.append(
            rules.consign(
                delivery,
                at=at,
                rule=rule,
                zone=office.time_zone,
                calendar=calendar_of(office, at=at),
            )
        )
        event = EvidenceType.CONTENT_CONSIGNMENT
    else:
        drafts.append(rules.relay_to_paper(delivery, at=at, decision=paper))
        event = EvidenceType.RELAY_TO_NON_ERDS
    await session.flush()
    records = await evidence.append_many(
        session,
        services.evidence,
        drafts,
        delivery_id=delivery.id,
        at=at,
        original_sha256=document.original_sha256,
        sealed_sha256=document.sealed_sha256,
    )
    enqueue(session, delivery, account, event, record=next(r for r in records if r.type == event))
    return delivery, records


def _deemed_days(services: Services, office: Office) -> int:
    if office.deemed_delivery_days is not None:
        return office.deemed_delivery_days
    return services.settings.deemed_days_for(office.code)
