"""The office workspace: the office's dispatches (newest first, filtered by a GET form, paged)
and one dispatch with its timeline, for its dispatchers and auditors.

Pages hold no rules: the list is :func:`mailbox.deliveries.office_list.list_dispatches` (the
one the API answers ``GET /api/v1/dispatches`` with), the timeline
:func:`mailbox.deliveries.inbox.read_delivery` as the office sees it, the legal date the legal
clock's sentence, and whether the document may be downloaded the access policy's
:func:`~mailbox.identity.policy.can_pick_up` (offices never pick up: dispatchers and auditors
see evidence and proof, no content, unless a grant on the account allows it). The single
dispatch form is in :mod:`mailbox.api.pages.office_form`.

The workspace navigation (``office_nav.html``) has room for the office's other pages (bulk
batches, paper).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import msgspec
from litestar import Request, Response, get
from litestar.response import Redirect, Template
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.api.pages.inbox import error_page
from mailbox.api.schemas.deliveries import DeliveryPublic, DispatchPublic, EvidencePublic
from mailbox.api.security import principal_or_none
from mailbox.clock import now
from mailbox.deliveries.inbox import read_delivery
from mailbox.deliveries.legal_clock import explain
from mailbox.deliveries.office_list import filter_from_text, list_dispatches
from mailbox.deliveries.retention import removed_notice
from mailbox.errors import InvalidRequest, MailboxError
from mailbox.identity.policy import Action, can_pick_up, offices_where, reads_any_office
from mailbox.models import Account, DeliveryStatus
from mailbox.proof.bundle import proof_contents
from mailbox.services import Services
from mailbox.timefmt import rfc3339_or_none

__all__ = ["WORKSPACE", "dispatch_path", "routes"]

WORKSPACE = "/office/dispatches"
PAGE_SIZE = 25
FILTER_FIELDS = (
    "status",
    "kind",
    "dossier_number",
    "recipient",
    "dispatched_from",
    "dispatched_to",
    "not_picked_up_after_days",
    "on_paper",
    "office_id",
)
NOTICES = {"dispatched": "Dispatched. The timeline below shows what happened to it so far."}


def dispatch_path(delivery_id: str) -> str:
    return f"{WORKSPACE}/{quote(delivery_id, safe='')}"


def _field_errors(error: MailboxError) -> dict[str, list[str]]:
    by_field: dict[str, list[str]] = {}
    for item in error.errors:
        by_field.setdefault(item.field, []).append(item.message)
    return by_field


@get(WORKSPACE, include_in_schema=False)
async def workspace(request: Request, services: Services, session: AsyncSession) -> Response[Any]:
    """The office's dispatches; people of no office are sent to their inbox."""
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    if not reads_any_office(principal):
        return Redirect("/inbox")
    typed = {name: request.query_params.get(name, "") for name in FILTER_FIELDS}
    cursor = request.query_params.get("cursor") or None
    failure: MailboxError | None = None
    items: list[DispatchPublic] = []
    next_page = None
    try:
        filters = filter_from_text(typed)
        page = await list_dispatches(
            session=session, principal=principal, filters=filters, limit=PAGE_SIZE, cursor=cursor
        )
        items = [DispatchPublic.of_item(item) for item in page.items]
        if page.next_cursor:
            query = {**filters.as_query(), "cursor": page.next_cursor}
            next_page = f"{WORKSPACE}?{urlencode(query)}"
    except InvalidRequest as exc:
        failure = exc
    return Template(
        "office_dispatches.html",
        context={
            "principal": principal,
            "items": items,
            "next_page": next_page,
            "filters": typed,
            "filtered": any(typed.values()),
            "statuses": [s.value for s in DeliveryStatus],
            "failure": failure,
            "errors": _field_errors(failure) if failure else {},
            "can_dispatch": bool(offices_where(principal, Action.DISPATCH)),
            "section": "dispatches",
        },
        status_code=failure.status_code if failure else 200,
    )


@get(WORKSPACE + "/{delivery_id:str}", include_in_schema=False)
async def dispatch_page(
    request: Request,
    delivery_id: str,
    services: Services,
    session: AsyncSession,
    done: str | None = None,
) -> Response[Any]:
    """One dispatch as its office sees it: status, legal date, paper path, evidence timeline,
    and its downloads (evidence, proof; the document only for who may pick it up)."""
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    try:
        view, records = await read_delivery(
            session=session, principal=principal, delivery_id=delivery_id, as_office=True
        )
    except MailboxError as exc:
        return error_page(principal, exc.detail, exc.status_code)
    delivery = view.delivery
    account = await session.get(Account, delivery.account_id)
    return Template(
        "office_dispatch.html",
        context={
            "principal": principal,
            "d": DeliveryPublic.of(view, records, for_addressee=can_pick_up(principal, delivery)),
            "recipient_name": account.name if account else delivery.account_id,
            "legal_date": explain(delivery, at=now()).sentence,
            "paper": {
                "queued_at": rfc3339_or_none(delivery.paper_queued_at),
                "posted_at": rfc3339_or_none(delivery.paper_posted_at),
                "returned_at": rfc3339_or_none(delivery.paper_returned_at),
                "reason": delivery.paper_reason,
            },
            "can_download": can_pick_up(principal, delivery),
            "removed": removed_notice(delivery),
            "proof_contents": proof_contents(principal, delivery),
            "can_dispatch": bool(offices_where(principal, Action.DISPATCH)),
            "notice": NOTICES.get(done or ""),
            "section": "dispatches",
        },
    )


@get(WORKSPACE + "/{delivery_id:str}/evidence", include_in_schema=False)
async def evidence_download(
    request: Request, delivery_id: str, services: Services, session: AsyncSession
) -> Response[Any]:
    """The dispatch's evidence records as JSON (what the timeline shows, with hashes and
    details): no content, so reading it is not recorded."""
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    try:
        _, records = await read_delivery(
            session=session, principal=principal, delivery_id=delivery_id, as_office=True
        )
    except MailboxError as exc:
        return error_page(principal, exc.detail, exc.status_code)
    body = msgspec.json.encode(
        {"delivery_id": delivery_id, "evidence": [EvidencePublic.of(r) for r in records]}
    )
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="evidence-{delivery_id}.json"',
            "Cache-Control": "no-store",
        },
    )


routes = [workspace, dispatch_page, evidence_download]
