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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.db import retry_transient
from mailbox.deliveries import data_documents
from mailbox.deliveries.dispatch import (
    IdempotencyClaim,
    seal_data_document,
    seal_pdf,
)
from mailbox.errors import (
    FieldError,
    InvalidDocument,
    InvalidRequest,
    NotFound,
)
from mailbox.formats.validation import check_documents, check_package
from mailbox.identity.admin import office_mailbox
from mailbox.models import (
    Account,
    Office,
)
from mailbox.services import Services
from mailbox.transmissions.package import (
    PACKAGE_SEAL_KIND,
    package_bytes,
)
from mailbox.transmissions.recording import (
    Parties,
    RowIds,
    StoredDocument,
    record_transmission,
)
from mailbox.transmissions.rejections import TransmissionRequest, record_rejection
from mailbox.transmissions.status import TransmissionView, load_view

__all__ = ["Sent", "send_transmission"]


@dataclass(frozen=True)
class Sent:
    """What sending answers: the transmission end to end, and whether it was created now
    (False when an Idempotency-Key replays an earlier one)."""

    view: TransmissionView
    created: bool


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

    async def read() -> Sent | tuple[dict[str, Any], Parties]:
        async with services.db.session() as session:
            earlier = await _earlier_result(session, claim) if claim else None
            if earlier is not None:
                return earlier
            if not request.manifest:
                raise InvalidRequest(
                    "A transmission needs its manifest",
                    errors=[FieldError("manifest", "a JSON file part is required")],
                )
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
        ids = RowIds.new(len(checked["documents"]))
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
            await record_transmission(
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


async def _earlier_result(session: AsyncSession, claim: IdempotencyClaim) -> Sent | None:
    transmission_id = await claim.earlier(session)
    if transmission_id is None:
        return None
    view = await load_view(session=session, transmission_id=transmission_id)
    if view is None:  # the key named something else than a transmission
        raise claim.reused()
    return Sent(view, created=False)


async def _parties(
    session: AsyncSession, request: TransmissionRequest, manifest: Mapping[str, Any]
) -> Parties:
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
    return Parties(sender, final, final_mailbox, hub, hub_mailbox)


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
    ids: RowIds,
) -> list[StoredDocument]:
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
        stored.append(StoredDocument(n, entry, content, sealed, ids.document_ids[n]))
    return stored
