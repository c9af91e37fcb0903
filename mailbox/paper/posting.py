"""Posted and returned letters: the printing contractor (or the office) says a letter went into
the post (``PaperPosted``, with a tracking number if there is one: the legal clock's
paper-posting rule counts from that day) or came back undeliverable (``PaperReturned``, with
the reason); one at a time, or a whole pile of returned envelopes at once by their retrieval
codes or delivery ids (:func:`apply_returns`, each line answered)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.deliveries import rules
from mailbox.deliveries.events import enqueue
from mailbox.errors import (
    Conflict,
    FieldError,
    InvalidRequest,
    MailboxError,
    NotFound,
    PermissionDenied,
)
from mailbox.evidence import log as evidence
from mailbox.evidence.log import EvidenceDraft
from mailbox.identity.policy import can_print, can_read_delivery
from mailbox.identity.principal import Principal
from mailbox.models import Account, Delivery, Document, PaperLetter, RetrievalCode
from mailbox.paper.codes import code_hash, normalise_code
from mailbox.services import Services

__all__ = ["ReturnLine", "apply_returns", "mark_posted", "mark_returned"]

MAX_UPLOAD_LINES = 10_000
DEFAULT_RETURN_REASON = "returned undeliverable"


async def _locked_for_printer(
    session: AsyncSession, principal: Principal, delivery_id: str
) -> Delivery:
    delivery = (
        await session.exec(select(Delivery).where(Delivery.id == delivery_id).with_for_update())
    ).first()
    if delivery is None or not (
        can_print(principal, delivery.office_id) or can_read_delivery(principal, delivery)
    ):
        raise NotFound(f"No delivery {delivery_id}")
    if not can_print(principal, delivery.office_id):
        raise PermissionDenied("Only the office's dispatchers and printers report paper letters")
    return delivery


async def _record(
    session: AsyncSession, services: Services, delivery: Delivery, draft: EvidenceDraft
) -> None:
    document = await session.get(Document, delivery.document_id)
    assert document is not None
    session.add(delivery)
    await evidence.append(
        session,
        services.evidence,
        draft,
        delivery_id=delivery.id,
        original_sha256=document.original_sha256,
        sealed_sha256=document.sealed_sha256,
    )
    account = await session.get(Account, delivery.account_id)
    enqueue(session, delivery, account, draft.type)


async def mark_posted(
    services: Services, principal: Principal, delivery_id: str, *, tracking_number: str | None
) -> Delivery:
    """The delivery's letter was posted today. :class:`Conflict` when it has no letter yet;
    :class:`~mailbox.errors.IllegalTransition` when it is not waiting to be posted."""
    tracking = (tracking_number or "").strip() or None
    async with services.db.write() as session:
        # Who asks first: a stranger learns nothing, not even that the input was wrong.
        delivery = await _locked_for_printer(session, principal, delivery_id)
        if tracking is not None and len(tracking) > 64:
            raise InvalidRequest(
                "A tracking number is at most 64 characters",
                errors=[FieldError("tracking_number", "at most 64 characters")],
            )
        letter = (
            await session.exec(select(PaperLetter).where(PaperLetter.delivery_id == delivery.id))
        ).first()
        if letter is None:
            raise Conflict(f"Delivery {delivery.id} has no printed letter yet")
        draft = rules.mark_paper_posted(
            delivery, at=now(), actor=principal.actor, tracking_number=tracking
        )
        await _record(session, services, delivery, draft)
    return delivery


async def mark_returned(
    services: Services, principal: Principal, delivery_id: str, *, reason: str
) -> Delivery:
    """The delivery's posted letter came back undeliverable, for ``reason`` (required)."""
    reason = reason.strip()
    async with services.db.write() as session:
        delivery = await _locked_for_printer(session, principal, delivery_id)
        if not reason or len(reason) > 500:
            raise InvalidRequest(
                "Say why the letter came back (1-500 characters)",
                errors=[FieldError("reason", "1-500 characters")],
            )
        draft = rules.mark_paper_returned(delivery, at=now(), actor=principal.actor, reason=reason)
        await _record(session, services, delivery, draft)
    return delivery


@dataclass(frozen=True)
class ReturnLine:
    """What became of one line of an upload of returned letters."""

    line: int
    value: str
    ok: bool
    detail: str
    delivery_id: str | None = None


async def _delivery_of(services: Services, value: str) -> str | None:
    """The delivery named by a line: a delivery id, or a retrieval code printed on a letter."""
    if value.lower().startswith("dlv_"):
        return value.lower()
    code = normalise_code(value)
    if code is None:
        return None
    async with services.db.session() as session:
        found = (
            await session.exec(
                select(RetrievalCode.delivery_id).where(RetrievalCode.code_hash == code_hash(code))
            )
        ).first()
    return found


async def apply_returns(
    services: Services, principal: Principal, text: str, *, reason: str = DEFAULT_RETURN_REASON
) -> list[ReturnLine]:
    """Mark returned every letter the uploaded ``text`` names, one per line: a retrieval code
    or a delivery id, optionally followed by a comma and the reason (else ``reason``). Blank
    lines and a header line (``code,reason``) are skipped; each other line is answered, and
    one bad line never stops the others (each line is its own transaction)."""
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) > MAX_UPLOAD_LINES:
        raise InvalidRequest(
            f"At most {MAX_UPLOAD_LINES} lines per upload",
            errors=[FieldError("file", f"at most {MAX_UPLOAD_LINES} lines")],
        )
    results: list[ReturnLine] = []
    for number, row in enumerate(rows, start=1):
        cells = [cell.strip() for cell in row]
        if not cells or not cells[0]:
            continue
        value = cells[0]
        if number == 1 and value.lower() in ("code", "delivery", "delivery_id", "retrieval_code"):
            continue
        why = cells[1] if len(cells) > 1 and cells[1] else reason
        delivery_id = await _delivery_of(services, value)
        if delivery_id is None:
            results.append(
                ReturnLine(number, value, False, "not a known retrieval code or delivery id")
            )
            continue
        try:
            await mark_returned(services, principal, delivery_id, reason=why)
        except NotFound:
            results.append(ReturnLine(number, value, False, "no such delivery of this office"))
        except MailboxError as exc:
            results.append(ReturnLine(number, value, False, exc.detail, delivery_id))
        else:
            results.append(ReturnLine(number, value, True, f"returned: {why}", delivery_id))
    return results
