"""Pickup: an account holder downloads a sealed document. The first download is the legal
handover (ContentHandover: who, when, from which address); later ones are ContentAccess. Every
other path that hands out the content (the proof bundle) records it the same way, through
:func:`record_handover`.

The blob is decrypted and authenticated BEFORE the handover is recorded: altered bytes are
never served, and a failed read never counts as a pickup.

A client may fetch part of the document (a byte range, for large documents or to resume an
interrupted download) or ask for it only if it differs from a copy it holds (by the sealed
file's SHA-256, the ``ETag``). A pickup is recorded once, however the bytes were fetched: the
first response that carries any of the content is the handover (the service cannot know which
bytes a client keeps, and from then on the recipient holds content it asked for), each later
one, range or whole, a ContentAccess; the evidence of a partial fetch names the range served
and the SHA-256 of those bytes. An answer carrying no content (the client's copy is current,
or the range lies beyond the end) records nothing.

A data document (JSON, XML) is picked up exactly like a PDF; its detached seal
(:func:`detached_seal`) is a CMS signature over the document's SHA-256 that holds none of its
content, so fetching it records nothing, but it is given only to those who may pick the
document up (the recipient is the one who needs it, to check the copy picked up).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlmodel import select

from mailbox.clock import now
from mailbox.deliveries import data_documents, rules
from mailbox.deliveries.events import enqueue
from mailbox.deliveries.retention import removed_notice
from mailbox.errors import ContentGone, NotFound, RangeNotSatisfiable
from mailbox.evidence import log as evidence
from mailbox.evidence.log import EvidenceType
from mailbox.identity.policy import can_pick_up
from mailbox.identity.principal import Principal
from mailbox.models import Delivery, Document
from mailbox.services import Services

__all__ = [
    "ByteRange",
    "DetachedSeal",
    "RangeWanted",
    "SealedDocument",
    "detached_seal",
    "pick_up",
    "record_handover",
]


@dataclass(frozen=True)
class RangeWanted:
    """A byte range as a client asks for it: ``first``-``last`` (``last`` None: to the end),
    or the final ``suffix`` bytes."""

    first: int | None = None
    last: int | None = None
    suffix: int | None = None
    # If-Range: only if the document's SHA-256 is this one (else the whole document).
    if_sha256: str | None = None

    def within(self, size: int) -> ByteRange:
        """The bytes of a ``size``-byte document this asks for; :class:`RangeNotSatisfiable`
        when it starts beyond the end (or asks for the last 0 bytes)."""
        if self.suffix is not None:
            if self.suffix == 0 or size == 0:
                raise RangeNotSatisfiable("The range asks for no bytes", size=size)
            return ByteRange(max(size - self.suffix, 0), size - 1, size)
        assert self.first is not None
        if self.first >= size:
            raise RangeNotSatisfiable(
                f"The range starts at byte {self.first}; the document has {size} bytes",
                size=size,
            )
        last = size - 1 if self.last is None else min(self.last, size - 1)
        return ByteRange(self.first, last, size)


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``first`` to ``last`` (inclusive) of a ``size``-byte document."""

    first: int
    last: int
    size: int

    @property
    def whole(self) -> bool:
        return self.first == 0 and self.last == self.size - 1


@dataclass(frozen=True)
class SealedDocument:
    filename: str
    content: bytes  # the bytes served: the whole sealed PDF, or the range asked for
    sha256: str  # of the whole sealed PDF
    evidence_type: str  # "" when nothing was served (not modified)
    size: int = 0  # of the whole sealed PDF
    served: ByteRange | None = None  # None: the whole document (or nothing, if not modified)
    not_modified: bool = False  # the client's copy (by sha256) is current: nothing served
    media_type: str = data_documents.PDF  # a PDF, or a data document (JSON, XML)


@dataclass(frozen=True)
class DetachedSeal:
    """The detached CMS seal of a data document, and the name it is served under."""

    filename: str
    content: bytes
    sha256: str


async def pick_up(
    services: Services,
    principal: Principal,
    delivery_id: str,
    *,
    ip: str | None,
    unless_sha256: Collection[str] = (),
    wanted: RangeWanted | None = None,
) -> SealedDocument:
    """The sealed PDF of a delivery the principal may pick up (mailbox.identity.policy: its
    account's grantees, and a machine client with ``documents:read``), or the range of it
    ``wanted``, recording the read; :class:`NotFound` for anyone else; :class:`ContentGone`
    (saying when and why) once its content was purged. When its SHA-256 is in
    ``unless_sha256`` (the client holds it already), nothing is read, served or recorded;
    a range beyond the end is :class:`RangeNotSatisfiable`, recorded neither."""
    async with services.db.session() as session:
        delivery = await session.get(Delivery, delivery_id)
        if delivery is None or not can_pick_up(principal, delivery):
            raise NotFound(f"No delivery {delivery_id}")
        _refuse_if_purged(delivery)
        document = await session.get(Document, delivery.document_id)
        assert document is not None
    filename = data_documents.download_filename(document.filename, document.media_type)
    if document.sealed_sha256 in unless_sha256:
        return SealedDocument(
            filename,
            b"",
            document.sealed_sha256,
            "",
            size=document.sealed_size,
            not_modified=True,
            media_type=document.media_type,
        )
    if wanted is not None and wanted.if_sha256 not in (None, document.sealed_sha256):
        wanted = None
    served = None if wanted is None else wanted.within(document.sealed_size)
    try:
        content = await asyncio.to_thread(services.blobs.get, document.sealed_sha256)
    except NotFound:
        await _refuse_if_purged_meanwhile(services, delivery_id)
        raise
    details: dict[str, Any] = {}
    if served is not None and served.whole:
        served = None
    if served is not None:
        content = content[served.first : served.last + 1]
        details = {
            "range": f"bytes {served.first}-{served.last}/{served.size}",
            "range_sha256": hashlib.sha256(content).hexdigest(),
        }
    recorded = await record_handover(
        services, principal, delivery_id, document, ip=ip, details=details
    )
    return SealedDocument(
        filename,
        content,
        document.sealed_sha256,
        recorded.value,
        size=document.sealed_size,
        served=served,
        media_type=document.media_type,
    )


async def detached_seal(services: Services, principal: Principal, delivery_id: str) -> DetachedSeal:
    """The detached seal of a delivery's data document, for a principal who may pick the
    document up (:class:`NotFound` for anyone else, and for a PDF, whose seal is inside it).
    It holds no content (only the document's digest, signed and timestamped): nothing is
    recorded, and it stays available after the content was purged, so that a copy kept by
    the recipient can still be checked."""
    async with services.db.session() as session:
        delivery = await session.get(Delivery, delivery_id)
        if delivery is None or not can_pick_up(principal, delivery):
            raise NotFound(f"No delivery {delivery_id}")
        document = await session.get(Document, delivery.document_id)
        assert document is not None
    if document.seal_sha256 is None:
        raise NotFound(
            f"The document of delivery {delivery_id} is a PDF: its seal is inside the PDF"
        )
    content = await asyncio.to_thread(services.blobs.get, document.seal_sha256)
    name = data_documents.download_filename(document.filename, document.media_type)
    return DetachedSeal(data_documents.seal_filename(name), content, document.seal_sha256)


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
    details: dict[str, Any] | None = None,
) -> EvidenceType:
    """Record, in one transaction, that the principal received the document's content: the
    first time the legal pickup (ContentHandover), later a ContentAccess. Every path that hands
    out content calls this AFTER the content was read and authenticated (a failed read never
    counts as a pickup); ``via`` names a path other than the document download, ``details``
    what else the record says (the range served)."""
    async with services.db.write() as session:
        locked = (
            await session.exec(select(Delivery).where(Delivery.id == delivery_id).with_for_update())
        ).one()
        at = now()
        draft = rules.hand_over(
            locked, at=at, actor=principal.actor, ip=ip, via=via, details=details
        )
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
