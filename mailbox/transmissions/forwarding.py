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
message waits and retries.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.deliveries.dispatch import deliver
from mailbox.deliveries.pickup import record_handover
from mailbox.errors import (
    BlobCorrupted,
    Conflict,
    FieldError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
)
from mailbox.evidence import log as evidence
from mailbox.evidence.log import EvidenceDraft, EvidenceType
from mailbox.formats.validation import PACKAGE_SCHEMA, schema
from mailbox.identity.admin import find_office, office_mailbox
from mailbox.identity.policy import can_dispatch_for, can_manage_office, can_read_office
from mailbox.identity.principal import Principal
from mailbox.ids import new_id
from mailbox.models import (
    ForwardingRule,
    ForwardMode,
    HopStatus,
    Office,
    TransmissionHop,
)
from mailbox.services import Services
from mailbox.transmissions.status import TransmissionView, load_view, read_transmission

__all__ = [
    "RECEIPT_VIA",
    "HubRules",
    "forward_held",
    "forwarding_rules",
    "hub_principal",
    "hub_rules",
    "receive_hop",
    "set_forwarding_rule",
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


async def forward_mode(session: AsyncSession, hub_office_id: str, kind: str) -> ForwardMode:
    """What the hub does with a transmission of ``kind``: its rule, or automatic without one."""
    rule = (
        await session.exec(
            select(ForwardingRule).where(
                ForwardingRule.hub_office_id == hub_office_id, ForwardingRule.kind == kind
            )
        )
    ).one_or_none()
    return ForwardMode(rule.mode) if rule is not None else ForwardMode.AUTOMATIC


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


@dataclass(frozen=True)
class HubRules:
    """A hub's forwarding rules: the mode of each kind it has a rule for (others: automatic)."""

    office: Office
    rules: list[ForwardingRule]


def transmission_kinds() -> list[str]:
    """The kinds a transmission may be of (the package schema's)."""
    return list(schema(PACKAGE_SCHEMA)["properties"]["kind"]["enum"])


async def forwarding_rules(
    services: Services,
    principal: Principal,
    *,
    office_code: str,
    kind: str | None = None,
    mode: str | None = None,
) -> HubRules:
    """The office's forwarding rules as its dispatchers and auditors read them; with ``kind``
    and ``mode``, its dispatchers set the rule of that kind first (one transaction). Who does
    not see the office is told it does not exist; its auditors may read but not change."""
    async with services.db.write() as session:
        try:
            office = await find_office(session=session, office=office_code)
        except NotFound:
            office = None
        if office is None or not (
            can_read_office(principal, office.id) or can_manage_office(principal, office.id)
        ):
            raise NotFound(f"No office {office_code}")
        if kind is not None:
            if not can_manage_office(principal, office.id):
                raise PermissionDenied("Only the office's dispatchers change its forwarding rules")
            await set_forwarding_rule(session=session, office=office, kind=kind, mode=mode)
        return await hub_rules(session=session, office=office)


async def hub_rules(*, session: AsyncSession, office: Office) -> HubRules:
    """The office's forwarding rules, by kind (no access check: the CLI's and the API's)."""
    rules = (
        await session.exec(
            select(ForwardingRule)
            .where(ForwardingRule.hub_office_id == office.id)
            .order_by(ForwardingRule.kind)
        )
    ).all()
    return HubRules(office, list(rules))


async def set_forwarding_rule(
    *, session: AsyncSession, office: Office, kind: str, mode: str | None
) -> None:
    """From now on the hub ``office`` handles transmissions of ``kind`` by ``mode``;
    :class:`InvalidRequest` naming an unknown kind or mode."""
    errors = []
    if kind not in transmission_kinds():
        errors.append(FieldError("kind", f"one of {', '.join(transmission_kinds())}"))
    if mode not in {m.value for m in ForwardMode}:
        errors.append(FieldError("mode", f"one of {', '.join(m.value for m in ForwardMode)}"))
    if errors:
        raise InvalidRequest("The forwarding rule is invalid", errors=errors)
    rule = (
        await session.exec(
            select(ForwardingRule).where(
                ForwardingRule.hub_office_id == office.id, ForwardingRule.kind == kind
            )
        )
    ).one_or_none() or ForwardingRule(hub_office_id=office.id, kind=kind)
    rule.mode, rule.changed_at = str(mode), now()
    session.add(rule)
    await session.flush()
