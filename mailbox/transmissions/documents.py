"""One document of a transmission's package, handed to someone who may pick up a hop of it.

The package document of each hop is fetched like any delivery's document; the documents it
binds are fetched here, by position. Only the people (or machine clients with
``documents:read``) of the mailbox a hop was delivered into may have them, and each download
is recorded on that hop's delivery (:func:`mailbox.deliveries.pickup.record_handover`, via
``transmission document``, naming the position and file): the first one is the legal pickup
of the hop. The blob is read and authenticated before anything is recorded.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from mailbox.deliveries.pickup import record_handover
from mailbox.errors import NotFound, PermissionDenied
from mailbox.evidence.log import EvidenceType
from mailbox.identity.policy import can_pick_up
from mailbox.identity.principal import Principal
from mailbox.services import Services
from mailbox.transmissions.status import HopView, TransmissionView, read_transmission

__all__ = ["PackageDocument", "fetch_document", "fetch_seal", "pickup_hop"]

VIA = "transmission document"


@dataclass(frozen=True)
class PackageDocument:
    """What a download of one document of a package serves."""

    filename: str
    media_type: str
    content: bytes
    sha256: str  # of the stored (sealed) document
    evidence_type: str  # "" when nothing was recorded (a seal holds no content)


def pickup_hop(principal: Principal, view: TransmissionView) -> HopView | None:
    """The hop whose delivery the principal may pick up (the latest, when it may several)."""
    return next((h for h in reversed(view.hops) if can_pick_up(principal, h.delivery)), None)


async def _located(
    services: Services, principal: Principal, transmission_id: str, position: int
) -> tuple[TransmissionView, HopView, int]:
    async with services.db.session() as session:
        view = await read_transmission(
            session=session, principal=principal, transmission_id=transmission_id
        )
    hop = pickup_hop(principal, view)
    if hop is None:
        raise PermissionDenied(
            "Only the people of a mailbox the package was delivered into may have its documents"
        )
    if view.document(position) is None:
        raise NotFound(f"Transmission {transmission_id} has no document {position}")
    return view, hop, position


async def fetch_document(
    services: Services,
    principal: Principal,
    transmission_id: str,
    position: int,
    *,
    ip: str | None,
) -> PackageDocument:
    """The stored (sealed) document ``position`` of the package, recorded on the principal's
    hop delivery. :class:`NotFound` for who does not see the transmission (or no such
    document), :class:`PermissionDenied` for who sees it but may pick up no hop of it."""
    view, hop, _ = await _located(services, principal, transmission_id, position)
    found = view.document(position)
    assert found is not None
    content = await asyncio.to_thread(services.blobs.get, found.document.sealed_sha256)
    recorded = await record_handover(
        services,
        principal,
        hop.delivery.id,
        view.package,
        ip=ip,
        via=VIA,
        details={"position": position, "file": found.entry.file},
    )
    return PackageDocument(
        found.document.filename,
        found.document.media_type,
        content,
        found.document.sealed_sha256,
        EvidenceType(recorded).value,
    )


async def fetch_seal(
    services: Services, principal: Principal, transmission_id: str, position: int
) -> PackageDocument:
    """The detached seal of data document ``position`` (a CMS signature: it holds no content,
    so nothing is recorded), for the same principals as the document; :class:`NotFound` for
    a PDF (sealed inside itself)."""
    view, _, _ = await _located(services, principal, transmission_id, position)
    found = view.document(position)
    assert found is not None
    if found.document.seal_sha256 is None:
        raise NotFound(f"Document {position} is a PDF: its seal is inside it")
    seal = await asyncio.to_thread(services.blobs.get, found.document.seal_sha256)
    return PackageDocument(
        f"{found.document.filename}.p7s",
        "application/pkcs7-signature",
        seal,
        found.document.seal_sha256,
        "",
    )
