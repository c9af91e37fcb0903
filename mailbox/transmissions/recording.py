"""Writing a new transmission, in the sending use case's one transaction: its documents and
package document, the transmission, its document entries, the first hop's delivery (with its
evidence, alerts, webhooks and feed: :func:`mailbox.deliveries.dispatch.deliver`), the hop,
the idempotency record and, when the first stop is a hub, the outbox message that has the hub
receive it. Below the use case: takes ``session``, never commits."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.deliveries import data_documents
from mailbox.deliveries.dispatch import IdempotencyClaim, Sealed, deliver
from mailbox.deliveries.filenames import document_filename
from mailbox.ids import new_id
from mailbox.models import (
    Account,
    Document,
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
    PackedDocument,
    kind_words,
    route_of,
)

__all__ = ["Parties", "RowIds", "StoredDocument", "forward_message", "record_transmission"]


@dataclass(frozen=True)
class Parties:
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
class StoredDocument:
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


@dataclass(frozen=True)
class RowIds:
    """The ids of a transmission's rows, chosen before sealing: the package names them, and a
    later attempt of the write can tell whether an earlier one committed."""

    transmission_id: str
    document_ids: tuple[str, ...]
    package_id: str
    delivery_id: str

    @classmethod
    def new(cls, documents: int) -> RowIds:
        return cls(
            new_id("trn"),
            tuple(new_id("doc") for _ in range(documents)),
            new_id("doc"),
            new_id("dlv"),
        )


async def record_transmission(
    *,
    session: AsyncSession,
    services: Services,
    manifest: Mapping[str, Any],
    parties: Parties,
    stored: list[StoredDocument],
    package: tuple[bytes, Sealed],
    actor: str,
    claim: IdempotencyClaim | None,
    ids: RowIds,
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
