"""Dispatch: an office serves a PDF on an account.

The order matters for "nothing lost, nothing half-written": validate, seal (off the event loop),
store the encrypted blob, then write document, delivery, evidence and outbox rows in ONE
transaction. A blob stored before a failed transaction is harmless: it is content-addressed and
referenced by nothing. Every refused dispatch that reached us leaves one SubmissionRejection
record and nothing else.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.deliveries import rules
from mailbox.deliveries.events import enqueue
from mailbox.errors import Conflict, FieldError, InvalidDocument, InvalidRequest, MailboxError
from mailbox.evidence import log as evidence
from mailbox.evidence.log import EvidenceDraft, EvidenceType
from mailbox.models import Account, Delivery, Document, IdempotencyRecord, Office
from mailbox.services import Services
from mailbox.signing.seal import PdfRejected

__all__ = ["DispatchRequest", "dispatch"]

KIND_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
DOSSIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./-]{0,63}$")


@dataclass(frozen=True)
class DispatchRequest:
    """One document for one account, as an office sends it."""

    office_id: str
    recipient_account_id: str
    kind_code: str
    dossier_number: str
    title: str
    filename: str
    pdf: bytes

    @cached_property
    def pdf_sha256(self) -> str:
        return hashlib.sha256(self.pdf).hexdigest()

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
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def validate(request: DispatchRequest, *, upload_limit: int) -> None:
    """Raise :class:`InvalidRequest` naming every bad field, or InvalidDocument for the file."""
    errors: list[FieldError] = []
    if not KIND_CODE.match(request.kind_code):
        errors.append(FieldError("kind_code", "1-32 letters, digits, '.', '_' or '-'"))
    if not DOSSIER.match(request.dossier_number.strip()):
        errors.append(FieldError("dossier_number", "1-64 letters, digits, spaces, '.', '/', '-'"))
    if not request.title.strip() or len(request.title) > 500:
        errors.append(FieldError("title", "must be 1-500 characters"))
    if not request.recipient_account_id.strip():
        errors.append(FieldError("recipient_account_id", "is required"))
    if not request.pdf:
        errors.append(FieldError("file", "a PDF file is required"))
    if errors:
        raise InvalidRequest("The dispatch metadata is invalid", errors=errors)
    if len(request.pdf) > upload_limit:
        raise InvalidDocument(
            f"The file is {len(request.pdf)} bytes; the limit is {upload_limit}",
            reason="too_large",
            status=413,
        )


async def _idempotent_result(
    session: AsyncSession, principal_key: str, key: str, fingerprint: str
) -> Delivery | None:
    record = (
        await session.exec(
            select(IdempotencyRecord).where(
                IdempotencyRecord.principal == principal_key, IdempotencyRecord.key == key
            )
        )
    ).one_or_none()
    if record is None:
        return None
    if record.request_hash != fingerprint:
        raise Conflict(
            f"Idempotency-Key {key!r} was already used for a different request",
            errors=[FieldError("Idempotency-Key", "reused with another body")],
        )
    return await session.get(Delivery, record.resource_id)


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
        "kind_code": request.kind_code[:32],
        "dossier_number": request.dossier_number[:64],
        "reason": error.detail,
        "errors": [{"field": e.field, "message": e.message} for e in error.errors],
        "received_bytes": len(request.pdf),
    }
    async with services.db.write() as session:
        record = await evidence.append(
            session,
            services.evidence,
            EvidenceDraft(EvidenceType.SUBMISSION_REJECTION, actor, actor_ip, details),
            delivery_id=None,
            original_sha256=request.pdf_sha256,
        )
        return record.id


async def dispatch(
    services: Services,
    request: DispatchRequest,
    *,
    actor: str,
    actor_ip: str | None = None,
    idempotency_key: str | None = None,
) -> tuple[Delivery, bool]:
    """Serve ``request``; return the delivery and whether it was created now (False when an
    Idempotency-Key replays an earlier dispatch)."""
    fingerprint = request.fingerprint()
    principal_key = f"office:{request.office_id}"
    if idempotency_key is not None:
        async with services.db.session() as session:
            earlier = await _idempotent_result(session, principal_key, idempotency_key, fingerprint)
        if earlier is not None:
            return earlier, False
    try:
        delivery = await _serve(
            services,
            request,
            actor=actor,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            principal_key=principal_key,
        )
    except _Replayed as replay:
        # Its transaction rolled back, which detached the instance: read it afresh.
        async with services.db.session() as session:
            earlier = await session.get(Delivery, replay.delivery_id)
        assert earlier is not None
        return earlier, False
    except (InvalidRequest, InvalidDocument) as error:
        error.evidence_id = await record_rejection(
            services, request, error, actor=actor, actor_ip=actor_ip
        )
        raise
    return delivery, True


class _Replayed(Exception):
    """The same Idempotency-Key committed while this request was sealing."""

    def __init__(self, delivery_id: str) -> None:
        self.delivery_id = delivery_id


async def _serve(
    services: Services,
    request: DispatchRequest,
    *,
    actor: str,
    idempotency_key: str | None,
    fingerprint: str,
    principal_key: str,
) -> Delivery:
    validate(request, upload_limit=services.settings.upload_limit_bytes)
    async with services.db.session() as session:
        office = await session.get(Office, request.office_id)
        account = await session.get(Account, request.recipient_account_id)
    if office is None:
        raise InvalidRequest(f"No office {request.office_id}")
    if account is None:
        raise InvalidRequest(
            f"No account {request.recipient_account_id}",
            errors=[FieldError("recipient_account_id", "no such account")],
        )
    try:
        sealed = await services.sealing.seal(
            request.pdf,
            reason=f"Official {request.kind_code} of {office.name}",
            location=office.code,
        )
    except PdfRejected as exc:
        raise InvalidDocument(str(exc), reason=exc.reason) from None
    original_sha = request.pdf_sha256
    sealed_sha = await asyncio.to_thread(services.blobs.put, sealed)

    try:
        async with services.db.write() as session:
            if idempotency_key is not None:
                earlier = await _idempotent_result(
                    session, principal_key, idempotency_key, fingerprint
                )
                if earlier is not None:
                    raise _Replayed(earlier.id)
            return await _record_dispatch(
                services,
                session,
                request,
                office,
                account,
                actor=actor,
                original_sha=original_sha,
                sealed_sha=sealed_sha,
                sealed_size=len(sealed),
                idempotency=(principal_key, idempotency_key, fingerprint),
            )
    except IntegrityError:
        # Another request with the same Idempotency-Key committed first: return its result.
        if idempotency_key is None:
            raise
        async with services.db.session() as session:
            earlier = await _idempotent_result(session, principal_key, idempotency_key, fingerprint)
        if earlier is None:
            raise
        return earlier


async def _record_dispatch(
    services: Services,
    session: AsyncSession,
    request: DispatchRequest,
    office: Office,
    account: Account,
    *,
    actor: str,
    original_sha: str,
    sealed_sha: str,
    sealed_size: int,
    idempotency: tuple[str, str | None, str],
) -> Delivery:
    at = now()
    document = Document(
        office_id=office.id,
        kind_code=request.kind_code,
        dossier_number=request.dossier_number.strip(),
        title=request.title.strip(),
        filename=request.filename or "document.pdf",
        original_sha256=original_sha,
        sealed_sha256=sealed_sha,
        original_size=len(request.pdf),
        sealed_size=sealed_size,
    )
    delivery = Delivery(
        document_id=document.id,
        account_id=account.id,
        office_id=office.id,
        dossier_number=document.dossier_number,
        submitted_at=at,
    )
    session.add(document)
    await session.flush()  # no ORM relationships: the document row must exist first
    session.add(delivery)
    hashes = {"original_sha256": original_sha, "sealed_sha256": sealed_sha}
    drafts = [
        rules.accept(
            delivery,
            actor=actor,
            details={
                "document_id": document.id,
                "kind_code": request.kind_code,
                "dossier_number": document.dossier_number,
                "title": document.title,
            },
        )
    ]
    paper_reason = rules.electronic_delivery_possible(account, office, request.kind_code)
    if paper_reason is None:
        drafts.append(rules.consign(delivery, at=at, deemed_days=_deemed_days(services, office)))
        event = EvidenceType.CONTENT_CONSIGNMENT
    else:
        drafts.append(rules.relay_to_paper(delivery, at=at, reason=paper_reason))
        event = EvidenceType.RELAY_TO_NON_ERDS
    await session.flush()
    await evidence.append_many(
        session, services.evidence, drafts, delivery_id=delivery.id, at=at, **hashes
    )
    enqueue(session, delivery, account, event)
    principal_key, key, fingerprint = idempotency
    if key is not None:
        session.add(
            IdempotencyRecord(
                principal=principal_key, key=key, request_hash=fingerprint, resource_id=delivery.id
            )
        )
        await session.flush()
    return delivery


def _deemed_days(services: Services, office: Office) -> int:
    if office.deemed_delivery_days is not None:
        return office.deemed_delivery_days
    return services.settings.deemed_days_for(office.code)
