"""Web pages of bulk dispatch for office staff: the office's batches with an upload form
(dispatchers), and one batch's progress, which refreshes itself (no script) until it is done,
with each line's result.

The upload posts the same multipart body as ``POST /api/v1/dispatch-batches`` (the form token
first, then the manifest and a ZIP or the PDFs) and goes through the same functions; a refused
upload shows the page again with the problem and each bad line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from litestar import Request, Response, get, post
from litestar.params import Parameter
from litestar.response import Redirect, Template
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.api.batch_uploads import receive_upload
from mailbox.api.pages.inbox import FORM_REFUSED, error_page
from mailbox.api.schemas.batches import BatchItemPublic, BatchPublic
from mailbox.api.security import foreign_origin, form_token_valid, principal_or_none
from mailbox.deliveries.batches import (
    create_batch,
    list_batches,
    list_items,
    new_upload,
    read_batch,
)
from mailbox.errors import MailboxError, PermissionDenied
from mailbox.identity.policy import Action, dispatch_office, offices_where
from mailbox.identity.principal import Principal
from mailbox.models import BatchStatus
from mailbox.services import Services

__all__ = ["routes", "upload_batch_page"]

# Seconds between two loads of a batch's page while it runs.
REFRESH_SECONDS = 2
ITEMS_PER_PAGE = 100


class _FormRefused(MailboxError):
    status_code = 403
    title = "Forbidden"


async def _list_page(
    session: AsyncSession,
    principal: Principal,
    *,
    cursor: str | None = None,
    failure: MailboxError | None = None,
) -> Template:
    try:
        page = await list_batches(session=session, principal=principal, cursor=cursor)
    except MailboxError as exc:
        return error_page(principal, exc.detail, exc.status_code)
    return Template(
        "batches.html",
        context={
            "principal": principal,
            "batches": [BatchPublic.of(b) for b in page.items],
            "next_page": f"/office/batches?cursor={page.next_cursor}" if page.next_cursor else None,
            "offices": offices_where(principal, Action.DISPATCH),
            "failure": failure,
        },
        status_code=failure.status_code if failure is not None else 200,
    )


@get("/office/batches", include_in_schema=False)
async def batches_page(
    request: Request, services: Services, session: AsyncSession, cursor: str | None = None
) -> Response[Any]:
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    return await _list_page(session, principal, cursor=cursor)


@post("/office/batches", include_in_schema=False, status_code=303)
async def upload_batch_page(
    request: Request, services: Services, session: AsyncSession
) -> Response[Any]:
    """The upload form's post: checked like the API's, its form token before any file."""
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    if not offices_where(principal, Action.DISPATCH):
        return error_page(principal, "Only an office's dispatchers may dispatch documents", 403)
    if foreign_origin(request, services):
        return error_page(principal, FORM_REFUSED, 403)

    def form_token_first(fields: Mapping[str, str]) -> None:
        if not form_token_valid(request, services, fields.get("csrf_token", "")):
            raise _FormRefused(FORM_REFUSED)

    upload = new_upload(services)
    try:
        fields = await receive_upload(request, upload, before_files=form_token_first)
        form_token_first(fields)  # also when no file was sent
        batch = await create_batch(
            services,
            upload,
            office_id=dispatch_office(principal, fields.get("office_id") or None),
            actor=principal.actor,
            declared_format=fields.get("manifest_format") or None,
        )
    except _FormRefused as exc:
        upload.discard()
        return error_page(principal, exc.detail, 403)
    except PermissionDenied as exc:
        upload.discard()
        return error_page(principal, exc.detail, 403)
    except MailboxError as exc:
        upload.discard()
        return await _list_page(session, principal, failure=exc)
    except BaseException:
        upload.discard()
        raise
    return Redirect(f"/office/batches/{quote(batch.id, safe='')}", status_code=303)


@get("/office/batches/{batch_id:str}", include_in_schema=False)
async def batch_page(
    request: Request,
    batch_id: str,
    services: Services,
    session: AsyncSession,
    cursor: str | None = None,
    status: Annotated[str | None, Parameter(query="status")] = None,
) -> Response[Any]:
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    try:
        batch = await read_batch(session=session, principal=principal, batch_id=batch_id)
        page = await list_items(
            session=session,
            principal=principal,
            batch_id=batch_id,
            limit=ITEMS_PER_PAGE,
            cursor=cursor,
            status=status or None,
        )
    except MailboxError as exc:
        return error_page(principal, exc.detail, exc.status_code)
    filters = {"status": status} if status else {}
    return Template(
        "batch.html",
        context={
            "principal": principal,
            "b": BatchPublic.of(batch),
            "items": [BatchItemPublic.of(i) for i in page.items],
            "status": status or "",
            "refresh": REFRESH_SECONDS if batch.status != BatchStatus.DONE else None,
            "next_page": (
                f"/office/batches/{quote(batch.id, safe='')}?"
                + urlencode({**filters, "cursor": page.next_cursor})
                if page.next_cursor
                else None
            ),
        },
    )


routes = [batches_page, batch_page]
