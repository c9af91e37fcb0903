"""The office workspace's transmissions: the list of the office's transmissions (sent, routed
as hub, received) and one transmission with its hops as a timeline, its documents, its proof
and, for the hub's dispatchers while the hub holds it, a Forward button.

Pages hold no rules: the list and the status are :mod:`mailbox.transmissions.status`'s (the
API answers with the same), forwarding is :func:`mailbox.transmissions.forwarding.forward_held`
and the proof :func:`mailbox.proof.transmission.build_transmission_bundle`. These pages are the
office side: they show a transmission to the dispatchers and auditors of one of its offices
(the people of a mailbox read what reached it in their inbox).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.api.downloads import digest_headers
from mailbox.api.pages.inbox import error_page, form_refused
from mailbox.api.security import client_address, foreign_origin, form_token_valid, principal_or_none
from mailbox.errors import MailboxError, NotFound
from mailbox.identity.policy import Action, can_dispatch_for, offices_where, reads_any_office
from mailbox.identity.principal import Principal
from mailbox.models import HopStatus
from mailbox.proof.transmission import build_transmission_bundle
from mailbox.services import Services
from mailbox.transmissions.forwarding import forward_held
from mailbox.transmissions.status import (
    TransmissionView,
    list_transmissions,
    read_transmission,
    status_json,
)

__all__ = ["routes"]

PAGES = "/office/transmissions"
PAGE_SIZE = 25
URL_ENCODED = Body(media_type=RequestEncodingType.URL_ENCODED)


@dataclass
class TokenForm:
    csrf_token: str = ""


def _page_path(transmission_id: str) -> str:
    return f"{PAGES}/{quote(transmission_id, safe='')}"


def _office_view(principal: Principal, view: TransmissionView) -> None:
    """The office pages show a transmission to the readers of one of its offices only."""
    if not set(offices_where(principal, Action.READ_OFFICE)) & set(view.offices):
        raise NotFound(f"No transmission {view.transmission.id}")


@get(PAGES, include_in_schema=False)
async def transmissions_page(
    request: Request, services: Services, session: AsyncSession, cursor: str | None = None
) -> Response[Any]:
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    if not reads_any_office(principal):
        return Redirect("/inbox")
    try:
        page = await list_transmissions(
            session=session, principal=principal, limit=PAGE_SIZE, cursor=cursor
        )
    except MailboxError as exc:
        return error_page(principal, exc.detail, exc.status_code)
    readers = set(offices_where(principal, Action.READ_OFFICE))
    return Template(
        "office_transmissions.html",
        context={
            "principal": principal,
            "section": "transmissions",
            "can_dispatch": bool(offices_where(principal, Action.DISPATCH)),
            "transmissions": [status_json(v) for v in page.items if readers & set(v.offices)],
            "next_page": f"{PAGES}?cursor={page.next_cursor}" if page.next_cursor else None,
        },
    )


@get(f"{PAGES}/{{transmission_id:str}}", include_in_schema=False)
async def transmission_page(
    request: Request, transmission_id: str, services: Services, session: AsyncSession
) -> Response[Any]:
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    try:
        view = await read_transmission(
            session=session, principal=principal, transmission_id=transmission_id
        )
        _office_view(principal, view)
    except MailboxError as exc:
        return error_page(principal, exc.detail, exc.status_code)
    hub = view.hub
    held = view.status == HopStatus.HELD
    return Template(
        "office_transmission.html",
        context={
            "principal": principal,
            "section": "transmissions",
            "can_dispatch": bool(offices_where(principal, Action.DISPATCH)),
            "t": status_json(view),
            "may_forward": held and hub is not None and can_dispatch_for(principal, hub.id),
            "notice": "Forwarded." if request.query_params.get("done") == "forwarded" else None,
        },
    )


@post(f"{PAGES}/{{transmission_id:str}}/forward", include_in_schema=False, status_code=303)
async def forward_page(
    request: Request,
    transmission_id: str,
    data: Annotated[TokenForm, URL_ENCODED],
    services: Services,
) -> Response[Any]:
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login", status_code=303)
    if foreign_origin(request, services) or not form_token_valid(
        request, services, data.csrf_token
    ):
        return form_refused(principal)
    try:
        async with services.db.session() as session:
            _office_view(
                principal,
                await read_transmission(
                    session=session, principal=principal, transmission_id=transmission_id
                ),
            )
        await forward_held(services, principal, transmission_id)
    except MailboxError as exc:
        return error_page(principal, exc.detail, exc.status_code)
    return Redirect(f"{_page_path(transmission_id)}?done=forwarded", status_code=303)


@get(f"{PAGES}/{{transmission_id:str}}/proof", include_in_schema=False)
async def proof_page(request: Request, transmission_id: str, services: Services) -> Response[Any]:
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    try:
        async with services.db.session() as session:
            _office_view(
                principal,
                await read_transmission(
                    session=session, principal=principal, transmission_id=transmission_id
                ),
            )
        content = await build_transmission_bundle(
            services, principal, transmission_id, ip=client_address(request)
        )
    except MailboxError as exc:
        return error_page(principal, exc.detail, exc.status_code)
    headers = {
        **digest_headers(hashlib.sha256(content).hexdigest()),
        "Content-Disposition": f'attachment; filename="transmission-{transmission_id}.zip"',
        "Cache-Control": "no-store",
    }
    return Response(content, media_type="application/zip", headers=headers)


routes = [transmissions_page, transmission_page, forward_page, proof_page]
