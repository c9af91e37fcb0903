"""A transmission end to end, as the offices it concerns see it: its route, its documents and
every hop (from, to, the delivery, when it was delivered, acknowledged, forwarded and picked
up), the list of an office's transmissions, and who may see them.

Picked up is derived, never stored twice: a hop's ``picked_up_at`` is its delivery's (one
place decides each legal fact), and a transmission is complete when its last hop's delivery
was picked up by the final recipient. So no hook into pickup is needed.

Who sees a transmission: the dispatchers and auditors of its sender, its hub and its final
recipient, and whoever may read the delivery of one of its hops (the people of the mailboxes
it passed through). Anyone else is told it does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.errors import NotFound
from mailbox.identity.policy import Action, accounts_where, can_read_delivery, offices_where
from mailbox.identity.principal import Principal
from mailbox.models import (
    Delivery,
    Document,
    HopStatus,
    Office,
    Transmission,
    TransmissionDocument,
    TransmissionHop,
)
from mailbox.pagination import check_page, decode_cursor, encode_cursor
from mailbox.timefmt import rfc3339, rfc3339_or_none

__all__ = [
    "DocumentView",
    "HopView",
    "TransmissionPage",
    "TransmissionView",
    "list_transmissions",
    "load_view",
    "may_see",
    "read_transmission",
    "status_json",
]


@dataclass(frozen=True)
class HopView:
    """One hop: its row, its delivery and the codes of the offices at both ends."""

    hop: TransmissionHop
    delivery: Delivery
    from_code: str
    to_code: str
    last: bool  # the hop into the final recipient's mailbox

    @property
    def picked_up_at(self) -> datetime | None:
        return self.delivery.picked_up_at

    @property
    def status(self) -> str:
        if self.last and self.delivery.picked_up_at is not None:
            return HopStatus.PICKED_UP
        return self.hop.status


@dataclass(frozen=True)
class DocumentView:
    """One document of the package: its entry and its stored document."""

    entry: TransmissionDocument
    document: Document


@dataclass(frozen=True)
class TransmissionView:
    """A transmission with everything its status shows."""

    transmission: Transmission
    offices: dict[str, Office]  # by id
    package: Document
    documents: list[DocumentView]
    hops: list[HopView]

    @property
    def sender(self) -> Office:
        return self.offices[self.transmission.sender_office_id]

    @property
    def final(self) -> Office:
        return self.offices[self.transmission.final_office_id]

    @property
    def hub(self) -> Office | None:
        hub_id = self.transmission.hub_office_id
        return self.offices[hub_id] if hub_id else None

    @property
    def completed_at(self) -> datetime | None:
        """When the final recipient first took the package (derived from its delivery)."""
        last = self.hops[-1] if self.hops else None
        return last.picked_up_at if last is not None and last.last else None

    @property
    def status(self) -> str:
        """Where the package stands: ``picked_up`` at the end of its route, ``held`` by a hub,
        ``delivered`` into the final recipient's mailbox, else ``in_transit``."""
        last = self.hops[-1]
        if last.last:
            return HopStatus.PICKED_UP if last.picked_up_at else HopStatus.DELIVERED
        return HopStatus.HELD if last.hop.status == HopStatus.HELD else "in_transit"

    def hop(self, number: int) -> HopView | None:
        return next((h for h in self.hops if h.hop.number == number), None)

    def document(self, position: int) -> DocumentView | None:
        return next((d for d in self.documents if d.entry.position == position), None)


async def load_view(*, session: AsyncSession, transmission_id: str) -> TransmissionView | None:
    """The transmission ``transmission_id`` end to end, or None (no access check)."""
    transmission = await session.get(Transmission, transmission_id)
    if transmission is None:
        return None
    office_ids = {transmission.sender_office_id, transmission.final_office_id}
    if transmission.hub_office_id:
        office_ids.add(transmission.hub_office_id)
    offices = {
        o.id: o
        for o in (await session.exec(select(Office).where(col(Office.id).in_(office_ids)))).all()
    }
    package = await session.get(Document, transmission.package_document_id)
    assert package is not None
    documents = [
        DocumentView(entry, document)
        for entry, document in (
            await session.exec(
                select(TransmissionDocument, Document)
                .join(Document, col(Document.id) == TransmissionDocument.document_id)
                .where(TransmissionDocument.transmission_id == transmission.id)
                .order_by(col(TransmissionDocument.position))
            )
        ).all()
    ]
    last_number = len(transmission.route) - 2
    hops = [
        HopView(
            hop,
            delivery,
            offices[hop.from_office_id].code,
            offices[hop.to_office_id].code,
            hop.number == last_number,
        )
        for hop, delivery in (
            await session.exec(
                select(TransmissionHop, Delivery)
                .join(Delivery, col(Delivery.id) == TransmissionHop.delivery_id)
                .where(TransmissionHop.transmission_id == transmission.id)
                .order_by(col(TransmissionHop.number))
            )
        ).all()
    ]
    return TransmissionView(transmission, offices, package, documents, hops)


def may_see(principal: Principal, view: TransmissionView) -> bool:
    """Whether the principal sees the transmission (see the module docstring)."""
    readers = set(offices_where(principal, Action.READ_OFFICE))
    if readers & set(view.offices):
        return True
    return any(can_read_delivery(principal, h.delivery) for h in view.hops)


async def read_transmission(
    *, session: AsyncSession, principal: Principal, transmission_id: str
) -> TransmissionView:
    """The transmission, for a principal who may see it; :class:`NotFound` for anyone else."""
    view = await load_view(session=session, transmission_id=transmission_id)
    if view is None or not may_see(principal, view):
        raise NotFound(f"No transmission {transmission_id}")
    return view


@dataclass(frozen=True)
class TransmissionPage:
    items: list[TransmissionView]
    next_cursor: str | None


async def list_transmissions(
    *, session: AsyncSession, principal: Principal, limit: int, cursor: str | None
) -> TransmissionPage:
    """The transmissions the principal sees (sent, routed or received by an office it reads,
    or passing through a mailbox it reads), newest first, keyset-paginated."""
    check_page(limit, cursor)
    offices = offices_where(principal, Action.READ_OFFICE)
    accounts = accounts_where(principal, Action.READ_DELIVERY)
    if not offices and not accounts:
        return TransmissionPage([], None)
    through_mailbox = (
        select(TransmissionHop.transmission_id)
        .join(Delivery, col(Delivery.id) == TransmissionHop.delivery_id)
        .where(col(Delivery.account_id).in_(accounts))
    )
    query = select(Transmission).where(
        or_(
            col(Transmission.sender_office_id).in_(offices),
            col(Transmission.hub_office_id).in_(offices),
            col(Transmission.final_office_id).in_(offices),
            col(Transmission.id).in_(through_mailbox),
        )
    )
    if cursor:
        at, last_id = decode_cursor(cursor)
        query = query.where(
            or_(
                col(Transmission.created_at) < at,
                (col(Transmission.created_at) == at) & (col(Transmission.id) < last_id),
            )
        )
    rows = (
        await session.exec(
            query.order_by(col(Transmission.created_at).desc(), col(Transmission.id).desc()).limit(
                limit + 1
            )
        )
    ).all()
    items = []
    for row in rows[:limit]:
        view = await load_view(session=session, transmission_id=row.id)
        assert view is not None
        items.append(view)
    more = len(rows) > limit
    last = rows[limit - 1] if more else None
    return TransmissionPage(items, encode_cursor(last.created_at, last.id) if last else None)


def status_json(view: TransmissionView) -> dict[str, Any]:
    """The transmission's status as JSON values (what the API answers and the transmission
    proof's ``transmission.json`` states)."""
    t = view.transmission
    return {
        "id": t.id,
        "international_application_number": t.international_application_number,
        "kind": t.kind,
        "sender_reference": t.sender_reference,
        "sender": view.sender.code,
        "via": view.hub.code if view.hub else None,
        "final_recipient": view.final.code,
        "route": list(t.route),
        "status": view.status,
        "created_at": rfc3339(t.created_at),
        "completed_at": rfc3339_or_none(view.completed_at),
        "package": {
            "document_id": view.package.id,
            "sha256": view.package.sealed_sha256,
            "seal_sha256": view.package.seal_sha256,
            "size": view.package.sealed_size,
        },
        "documents": [
            {
                "position": d.entry.position,
                "file": d.entry.file,
                "role": d.entry.role,
                "media_type": d.document.media_type,
                "original_sha256": d.document.original_sha256,
                "sealed_sha256": d.document.sealed_sha256,
                "seal_sha256": d.document.seal_sha256,
            }
            for d in view.documents
        ],
        "hops": [
            {
                "number": h.hop.number,
                "from": h.from_code,
                "to": h.to_code,
                "delivery_id": h.delivery.id,
                "status": h.status,
                "delivered_at": rfc3339(h.hop.delivered_at),
                "acknowledged_at": rfc3339_or_none(h.hop.acknowledged_at),
                "acknowledgement_id": h.hop.acknowledgement_id,
                "forwarded_at": rfc3339_or_none(h.hop.forwarded_at),
                "forwarded_by": h.hop.forwarded_by,
                "picked_up_at": rfc3339_or_none(h.picked_up_at),
            }
            for h in view.hops
        ],
    }
