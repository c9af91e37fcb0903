"""Pickup: an account holder downloads a sealed document. The first download is the legal
handover (ContentHandover: who, when, from which address); later ones are ContentAccess. Every
other path that hands out the content (the proof bundle) records it the same way, through
:func:`record_handover`.

The blob is decrypted and authenticated BEFORE the handover is recorded: altered bytes are
never served, and a failed read never counts as a pickup.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlmodel import select

from mailbox.clock import now
from mailbox.deliveries import rules
from mailbox.deliveries.events import enqueue
from mailbox.deliveries.retention import removed_notice
from mailbox.errors import ContentGone, NotFound
from mailbox.evidence import log as evidence
from mailbox.evidence.log import EvidenceType
from mailbox.identity.policy import can_pick_up
from mailbox.identity.principal import Principal
from mailbox.models import Delivery, Document
from mailbox.services import Services

__all__ = ["SealedDocument", "pick_up", "record_handover"]


@dataclass(frozen=True)
class SealedDocument:
    filename: str
    content: bytes
    sha256: str
    evidence_type: str


async def pick_up(
    services: Services, principal: Principal, delivery_id: str, *, ip: str | None
) -> SealedDocument:
    """The sealed PDF of a delivery the principal may pick up (mailbox.identity.policy: its
    account's grantees), recording the read; :class:`NotFound` for anyone else;
    :class:`ContentGone` (saying when and why) once its content was purged."""
    async with services.db.session() as session:
        delivery = await session.get(Delivery, delivery_id)
        if delivery is None or not can_pick_up(principal, delivery):
            raise NotFound(f"No delivery {delivery_id}")
        _refuse_if_purged(delivery)
        document = await session.get(Document, delivery.document_id)
        assert document is not None
    try:
        content = await asyncio.to_thread(services.blobs.get, document.sealed_sha256)
    except NotFound:
        await _refuse_if_purged_meanwhile(services, delivery_id)
        raise
    recorded = await record_handover(services, principal, delivery_id, document, ip=ip)
    return SealedDocument(document.filename, content, document.sealed_sha256, recorded.value)


def _refuse_if_purged(delivery: Delivery) -> None:
    removed = removed_notice(delivery)
    if removed is not None:
        raise ContentGone(
            f"The content of this document was removed. {removed} Its evidence and its "
            "SHA-256 remain: the proof of delivery still proves what was delivered."
        )


async def _refuse_if_purged_meanwhile(services: Services, delivery_id: str) -> None:
    """The blob vanished between the look-up and the read: purged in between, say so (410)."""
    async with services.db.session() as session:
        delivery = await session.get(Delivery, delivery_id)
    if delivery is not None:
        _refuse_if_purged(delivery)


async def record_handover(
    services: Services,
    principal: Principal,
    delivery_id: str,
    document: Document,
    *,
    ip: str | None,
    via: str | None = None,
) -> EvidenceType:
    """Record, in one transaction, that the principal received the document's content: the
    first time the legal pickup (ContentHandover), later a ContentAccess. Every path that hands
    out content calls this AFTER the content was read and authenticated (a failed read never
    counts as a pickup); ``via`` names a path other than the document download."""
    async with services.db.write() as session:
        locked = (
            await session.exec(select(Delivery).where(Delivery.id == delivery_id).with_for_update())
        ).one()
        at = now()
        draft = rules.hand_over(locked, at=at, actor=principal.actor, ip=ip, via=via)
        session.add(locked)
        record = await evidence.append(
            session,
            services.evidence,
            draft,
            delivery_id=locked.id,
            original_sha256=document.original_sha256,
            sealed_sha256=document.sealed_sha256,
            at=at,
        )
        if draft.type == EvidenceType.CONTENT_HANDOVER:
            enqueue(session, locked, None, EvidenceType.CONTENT_HANDOVER, record=record)
    return draft.type
