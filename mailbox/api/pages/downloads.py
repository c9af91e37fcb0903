"""The delivery page's downloads: the sealed PDF (whose first download is the legal pickup) and
the proof of delivery, for the browser's web session.

The JSON API takes bearer tokens only, so the page's links cannot point there: these routes
take the session cookie (SameSite=Strict: another site cannot make a browser follow them with
it) and call the same use cases as the API's downloads, answering with the same files.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.response import Redirect

from mailbox.api.downloads import (
    document_response,
    proof_response,
    range_wanted,
    sha256_not_wanted,
)
from mailbox.api.pages.inbox import error_page
from mailbox.api.security import client_address, principal_or_none
from mailbox.deliveries.pickup import pick_up
from mailbox.errors import MailboxError
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


routes = [document_download, proof_download]
