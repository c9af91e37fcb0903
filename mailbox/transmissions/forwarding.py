"""A hub receives a hop of a transmission and sends the package on; and the hubs' rules.

Receiving (:func:`receive_hop`, run by the outbox's transmission channel) is the hub's system
acting on the package that reached its mailbox:

1. it takes the package: the legal pickup of that hop, recorded like any other
   (:func:`mailbox.deliveries.pickup.record_handover`, actor ``hub:<CODE>``);
2. the service checks that the package and every document it binds are stored exactly as
   sealed, and signs a ReceiptAcknowledgement record on the hop's delivery saying so;
3. the hub's forwarding rule for the kind decides: ``automatic`` (also when there is no rule)
   delivers the same package document from the hub into the next office's mailbox (the next
   hop, whose acceptance names the delivery it was ``forwarded_from``); ``check`` holds it
   until a dispatcher of the hub (or its machine client) forwards it (:func:`forward_held`).

Every step is idempotent, so a message handled twice (after a crash, or a lost lease) changes
nothing the second time: the pickup is taken only while the delivery was not picked up, the
acknowledgement and the decision are written in one transaction holding the hop's row lock,
only while the hop has none, and the unique (transmission, number) of hops forbids a second
next hop. A failure of ours (a blob that cannot be read, the database) raises, and the
message waits and retries. The rules themselves are :mod:`.rules`.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.deliveries.dispatch import deliver
from mailbox.deliveries.pickup import record_handover
from mailbox.errors import (
    BlobCorrupted,
    Conflict,
    PermissionDenied,
)
from mailbox.evidence import log as evidence
from mailbox.evidence.log import EvidenceDraft, EvidenceType
from mailbox.identity.admin import find_office, office_mailbox
from mailbox.identity.policy import can_dispatch_for
from mailbox.identity.principal import Principal
from mailbox.ids import new_id
from mailbox.models import (
    ForwardMode,
    HopStatus,
    Office,
    TransmissionHop,
)
from mailbox.services import Services
from mailbox.transmissions.rules import forward_mode
from mailbox.transmissions.status import TransmissionView, load_view, read_transmission

__all__ = [
    "RECEIPT_VIA",
    "forward_held",
    "hub_principal",
    "receive_hop",
]

# How a hub's receipt of a package is named in the pickup's evidence.
RECEIPT_VIA = "hub receipt"


def hub_principal(hub: Office) -> Principal:
    """The hub's own system, as it is named in the evidence of what it does (``hub:<CODE>``)."""
    return Principal(user_id=hub.code, email="", display_name=f"{hub.name} (system)", kind="hub")


async def receive_hop(services: Services, transmission_id: str, number: int) -> str:
    """The hub at the end of hop ``number`` receives it: takes the package, acknowledges it,
    and forwards or holds it. Returns what it did, in words. Idempotent (see the module
    docstring); raises on a failure of ours, for the caller to try again later."""
    async with services.db.session() as session:
        view = await load_view(session=session, transmission_id=transmission_id)
    hop = view.hop(number) if view else None
    if view is None or hop is None or hop.last:
        return "nothing to receive: no such hop into a hub"
    if hop.hop.acknowledged_at is not None and hop.hop.status != HopStatus.DELIVERED:
        return "already received"
    hub = view.offices[hop.hop.to_office_id]
    checked = await _check_stored(services, view)
    if hop.delivery.picked_up_at is None:
        await record_handover(
            services, hub_principal(hub), hop.delivery.id, view.package, ip=None, via=RECEIPT_VIA
        )
    async with services.db.write() as session:
        locked = await _locked_hop(session, transmission_id, number)
        at = now()
        actor = hub_principal(hub).actor
        if locked.acknowledgement_id is None:
            record = await evidence.append(
                session,
                services.evidence,
                EvidenceDraft(
                    EvidenceType.RECEIPT_ACKNOWLEDGEMENT,
                    actor,
                    None,
                    {
                        "transmission_id": transmission_id,
                        "hop": number,
                        "package_sha256": view.package.sealed_sha256,
                        "documents": checked,
                        "documents_matched": True,
                    },
                ),
                delivery_id=locked.delivery_id,
                original_sha256=view.package.original_sha256,
                sealed_sha256=view.package.sealed_sha256,
                at=at,
            )
            locked.acknowledged_at, locked.acknowledgement_id = at, record.id
        if locked.status != HopStatus.DELIVERED:
            session.add(locked)
            return "already received"
        mode = await forward_mode(session, hub.id, view.transmission.kind)
        if mode == ForwardMode.CHECK:
            locked.status = HopStatus.HELD
            session.add(locked)
            return "acknowledged and held for the hub's check"
        await _forward(session, services, view, locked, actor=actor, at=at)
    return "acknowledged and forwarded"


async def _check_stored(services: Services, view: TransmissionView) -> list[dict[str, object]]:
    """Read the package and every document (decrypted and authenticated) and check each
    against the SHA-256 it was sealed as; :class:`BlobCorrupted` when one differs."""
    checked = []
    for name, document in [
        ("package", view.package),
        *((d.entry.file, d.document) for d in view.documents),
    ]:
        content = await asyncio.to_thread(services.blobs.get, document.sealed_sha256)
        if hashlib.sha256(content).hexdigest() != document.sealed_sha256:
            raise BlobCorrupted(f"The stored {name} does not match its sealed SHA-256")
        if name != "package":
            checked.append({"file": name, "sealed_sha256": document.sealed_sha256, "matched": True})
    return checked


async def _locked_hop(session: AsyncSession, transmission_id: str, number: int) -> TransmissionHop:
    return (
        await session.exec(
            select(TransmissionHop)
            .where(
                TransmissionHop.transmission_id == transmission_id,
                TransmissionHop.number == number,
            )
            .with_for_update()
        )
    ).one()


async def _forward(
    session: AsyncSession,
    services: Services,
    view: TransmissionView,
    hop: TransmissionHop,
    *,
    actor: str,
    at: datetime,
) -> TransmissionHop:
    """Deliver the package from the hub at the end of ``hop`` into the next office's mailbox,
    in the caller's transaction (``hop``'s row locked): the next hop, and ``hop`` forwarded.
    The next hop already there (a second forward) is returned as it is."""
    existing = (
        await session.exec(
            select(TransmissionHop).where(
                TransmissionHop.transmission_id == hop.transmission_id,
                TransmissionHop.number == hop.number + 1,
            )
        )
    ).one_or_none()
    if existing is not None:
        return existing
    route = view.transmission.route
    hub = await find_office(session=session, office=route[hop.number + 1])
    following, mailbox = await office_mailbox(session=session, office=route[hop.number + 2])
    if mailbox is None:  # closed since the transmission was sent: an operator must step in
        raise Conflict(f"The office {following.code} has no mailbox to forward to")
    package = view.package
    delivery, _ = await deliver(
        session=session,
        services=services,
        document=package,
        office=hub,
        account=mailbox,
        actor=actor,
        delivery_id=new_id("dlv"),
        at=at,
        details={
            "transmission_id": hop.transmission_id,
            "hop": hop.number + 1,
            "forwarded_from": hop.delivery_id,
            "document_id": package.id,
            "kind_code": package.kind_code,
            "dossier_number": package.dossier_number,
            "title": package.title,
        },
    )
    following_hop = TransmissionHop(
        transmission_id=hop.transmission_id,
        number=hop.number + 1,
        from_office_id=hub.id,
        to_office_id=following.id,
        delivery_id=delivery.id,
        delivered_at=delivery.available_at or at,
    )
    hop.status, hop.forwarded_at, hop.forwarded_by = HopStatus.FORWARDED, at, actor[:64]
    session.add_all([hop, following_hop])
    await session.flush()
    return following_hop


async def forward_held(
    services: Services, principal: Principal, transmission_id: str
) -> TransmissionView:
    """A dispatcher of the hub (or its machine client) forwards a transmission its hub holds;
    :class:`NotFound` for who does not see it, :class:`PermissionDenied` for who sees it but
    does not dispatch for the hub, :class:`Conflict` when it is not held."""
    async with services.db.write() as session:
        view = await read_transmission(
            session=session, principal=principal, transmission_id=transmission_id
        )
        hub = view.hub
        if hub is None or not can_dispatch_for(principal, hub.id):
            raise PermissionDenied("Only the hub's dispatchers forward a transmission")
        held = next((h for h in view.hops if h.hop.to_office_id == hub.id and not h.last), None)
        locked = await _locked_hop(session, transmission_id, held.hop.number) if held else None
        if locked is None or locked.status != HopStatus.HELD:
            raise Conflict(
                "The transmission is not held by its hub (already forwarded, or not received yet)"
            )
        await _forward(session, services, view, locked, actor=principal.actor, at=now())
    async with services.db.session() as session:
        forwarded = await load_view(session=session, transmission_id=transmission_id)
    assert forwarded is not None
    return forwarded
