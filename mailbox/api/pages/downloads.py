"""The delivery page's downloads: the sealed document (whose first download is the legal
pickup), a data document's detached seal, a data notice opened as a page, and the proof of
delivery, for the browser's web session.

A data notice shown as a page is its content handed over: ``/deliveries/{id}/notice`` reads it
through the same recorded pickup as the download (the first opening is the legal pickup, each
later one a ContentAccess) and only then renders its fields. The delivery page itself never
shows a field of the document, only a link to this.

The JSON API takes bearer tokens only, so the page's links cannot point there: these routes
take the session cookie (SameSite=Strict: another site cannot make a browser follow them with
it) and call the same use cases as the API's downloads, answering with the same files.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.response import Redirect, Template

from mailbox.api.downloads import (
    document_response,
    proof_response,
    range_wanted,
    seal_response,
    sha256_not_wanted,
)
from mailbox.api.pages.inbox import error_page
from mailbox.api.security import client_address, principal_or_none
from mailbox.deliveries.data_documents import document_words, is_data, readable_fields
from mailbox.deliveries.inbox import get_delivery
from mailbox.deliveries.pickup import detached_seal, pick_up
from mailbox.errors import MailboxError, NotFound
from mailbox.identity.policy import can_pick_up
from mailbox.proof.bundle import build_bundle
from mailbox.services import Services

__all__ = ["routes"]


@get("/deliveries/{delivery_id:str}/document", include_in_schema=False)
async def document_download(
    request: Request, delivery_id: str, services: Services
) -> Response[Any]:
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    try:
        document = await pick_up(
            services,
            principal,
            delivery_id,
            ip=client_address(request),
            unless_sha256=sha256_not_wanted(request),
            wanted=range_wanted(request),
        )
    except MailboxError as exc:
        return error_page(principal, exc.detail, exc.status_code)
    return document_response(document)


@get("/deliveries/{delivery_id:str}/document/seal", include_in_schema=False)
async def seal_download(request: Request, delivery_id: str, services: Services) -> Response[Any]:
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    try:
        seal = await detached_seal(services, principal, delivery_id)
    except MailboxError as exc:
        return error_page(principal, exc.detail, exc.status_code)
    return seal_response(seal)


@get("/deliveries/{delivery_id:str}/notice", include_in_schema=False)
async def notice_page(request: Request, delivery_id: str, services: Services) -> Response[Any]:
    """A data document opened in the browser: picked up (recorded) first, then its fields
    shown as a table, with its download and its seal beside them."""
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    try:
        async with services.db.session() as session:
            view = await get_delivery(session=session, principal=principal, delivery_id=delivery_id)
        if not can_pick_up(principal, view.delivery):
            raise NotFound(f"No delivery {delivery_id}")
        if not is_data(view.document.media_type):  # a PDF opens as itself
            return Redirect(f"/deliveries/{delivery_id}/document")
        document = await pick_up(services, principal, delivery_id, ip=client_address(request))
    except MailboxError as exc:
        return error_page(principal, exc.detail, exc.status_code)
    doc = view.document
    return Template(
        "notice.html",
        context={
            "principal": principal,
            "delivery_id": delivery_id,
            "title": doc.title,
            "words": document_words(doc.media_type, doc.kind_code),
            "fields": readable_fields(
                document.content, document.media_type, kind_code=doc.kind_code
            ),
            "sha256": document.sha256,
            "filename": document.filename,
            "recorded": document.evidence_type,
        },
        headers={"Cache-Control": "no-store"},
    )


@get("/deliveries/{delivery_id:str}/proof", include_in_schema=False)
async def proof_download(request: Request, delivery_id: str, services: Services) -> Response[Any]:
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    try:
        bundle = await build_bundle(services, principal, delivery_id, ip=client_address(request))
    except MailboxError as exc:
        return error_page(principal, exc.detail, exc.status_code)
    return proof_response(bundle, delivery_id)


routes = [document_download, seal_download, notice_page, proof_download]
