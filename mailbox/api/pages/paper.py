"""Pages of paper: the office's paper room (``/office/paper``: letters waiting and posted,
print batches with their downloads, the button that builds a batch now, posted and returned
letters one by one or by uploading the returned envelopes' codes) and the recipient's
``/retrieve`` page (a paper letter's retrieval code, then its electronic copy).

No rules here: each handler calls the paper room's use cases (:mod:`mailbox.paper`) as the
API does. Forms carry the session's form token.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.api.downloads import digest_headers, document_response
from mailbox.api.pages.inbox import error_page, form_refused
from mailbox.api.security import client_address, foreign_origin, form_token_valid, principal_or_none
from mailbox.errors import InvalidRequest, MailboxError, NotFound, TooManyAttempts
from mailbox.identity.policy import Action, accounts_where, can_print, offices_where
from mailbox.identity.principal import Principal
from mailbox.models import Account, Office
from mailbox.paper.batches import build_print_batches, download_batch
from mailbox.paper.posting import DEFAULT_RETURN_REASON, apply_returns, mark_posted, mark_returned
from mailbox.paper.retrieval import NEW_ACCOUNT, open_paper_copy, redeem_code, retrieved_by
from mailbox.paper.room import paper_room
from mailbox.services import Services

__all__ = ["routes"]

URL_ENCODED = Body(media_type=RequestEncodingType.URL_ENCODED)
ROOM = "/office/paper"
MAX_UPLOAD_BYTES = 512 * 1024


@dataclass
class OfficeForm:
    office_id: str = ""
    csrf_token: str = ""


@dataclass
class PostedForm:
    tracking_number: str = ""
    csrf_token: str = ""


@dataclass
class ReturnedForm:
    reason: str = ""
    csrf_token: str = ""


@dataclass
class ReturnsForm:
    office_id: str = ""
    reason: str = ""
    csrf_token: str = ""
    file: UploadFile | None = None


@dataclass
class RetrieveForm:
    code: str = ""
    account_id: str = ""
    account_name: str = ""
    csrf_token: str = ""


async def _room_context(session: AsyncSession, principal: Principal) -> list[Any]:
    rooms = []
    for office_id in offices_where(principal, Action.PRINT):
        office = await session.get(Office, office_id)
        if office is not None:
            rooms.append(await paper_room(session=session, office=office))
    return rooms


@get(ROOM, include_in_schema=False)
async def paper_room_page(
    request: Request,
    services: Services,
    session: AsyncSession,
    done: str | None = None,
    error: str | None = None,
) -> Response[Any]:
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    notices = {
        "built": "Print batch built.",
        "nothing": "No letters are waiting for a print batch.",
        "posted": "Marked posted.",
        "returned": "Marked returned undeliverable.",
    }
    return Template(
        "paper_room.html",
        context={
            "principal": principal,
            "rooms": await _room_context(session, principal),
            "notice": notices.get(done or ""),
            "error": error,
            "default_reason": DEFAULT_RETURN_REASON,
        },
    )


def _back(**query: str) -> Redirect:
    return Redirect(f"{ROOM}?{urlencode(query)}", status_code=303)


async def _checked(
    request: Request, services: Services, csrf_token: str
) -> Principal | Response[Any]:
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login", status_code=303)
    if foreign_origin(request, services) or not form_token_valid(request, services, csrf_token):
        return form_refused(principal)
    return principal


@post(ROOM + "/batches", include_in_schema=False, status_code=303)
async def build_batch_now(
    request: Request, data: Annotated[OfficeForm, URL_ENCODED], services: Services
) -> Response[Any]:
    principal = await _checked(request, services, data.csrf_token)
    if not isinstance(principal, Principal):
        return principal
    if not data.office_id or not can_print(principal, data.office_id):
        return error_page(principal, f"No office {data.office_id}", 404)
    try:
        built = await build_print_batches(services, actor=principal.actor, office_id=data.office_id)
    except MailboxError as exc:
        return error_page(principal, exc.detail, exc.status_code)
    return _back(done="built" if built else "nothing")


async def _batch_file(request: Request, services: Services, batch_id: str, part: str) -> Any:
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    try:
        found = await download_batch(
            services, principal, batch_id, part=part, ip=client_address(request)
        )
    except MailboxError as exc:
        return error_page(principal, exc.detail, exc.status_code)
    return Response(
        found.content,
        media_type=found.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{found.filename}"',
            "Cache-Control": "no-store",
            # The printer checks what it received, like any other download of the service.
            **digest_headers(hashlib.sha256(found.content).hexdigest()),
        },
    )


@get(ROOM + "/batches/{batch_id:str}/pdf", include_in_schema=False)
async def batch_pdf(request: Request, batch_id: str, services: Services) -> Response[Any]:
    """The sealed print batch: its download is recorded on each of its deliveries."""
    return await _batch_file(request, services, batch_id, "pdf")


@get(ROOM + "/batches/{batch_id:str}/manifest", include_in_schema=False)
async def batch_manifest(request: Request, batch_id: str, services: Services) -> Response[Any]:
    return await _batch_file(request, services, batch_id, "manifest")


@post(ROOM + "/deliveries/{delivery_id:str}/posted", include_in_schema=False, status_code=303)
async def posted_form(
    request: Request,
    delivery_id: str,
    data: Annotated[PostedForm, URL_ENCODED],
    services: Services,
) -> Response[Any]:
    principal = await _checked(request, services, data.csrf_token)
    if not isinstance(principal, Principal):
        return principal
    try:
        await mark_posted(services, principal, delivery_id, tracking_number=data.tracking_number)
    except MailboxError as exc:
        return error_page(principal, exc.detail, exc.status_code)
    return _back(done="posted")


@post(ROOM + "/deliveries/{delivery_id:str}/returned", include_in_schema=False, status_code=303)
async def returned_form(
    request: Request,
    delivery_id: str,
    data: Annotated[ReturnedForm, URL_ENCODED],
    services: Services,
) -> Response[Any]:
    principal = await _checked(request, services, data.csrf_token)
    if not isinstance(principal, Principal):
        return principal
    try:
        await mark_returned(services, principal, delivery_id, reason=data.reason)
    except MailboxError as exc:
        return error_page(principal, exc.detail, exc.status_code)
    return _back(done="returned")


@post(ROOM + "/returns", include_in_schema=False, status_code=200)
async def returns_upload(
    request: Request,
    data: Annotated[ReturnsForm, Body(media_type=RequestEncodingType.MULTI_PART)],
    services: Services,
) -> Response[Any]:
    """An upload of returned letters (a text or CSV file: one retrieval code or delivery id
    per line, optionally a comma and the reason); every line is answered."""
    principal = await _checked(request, services, data.csrf_token)
    if not isinstance(principal, Principal):
        return principal
    if not data.office_id or not can_print(principal, data.office_id):
        return error_page(principal, f"No office {data.office_id}", 404)
    raw = await data.file.read() if data.file is not None else b""
    if not raw.strip():
        return error_page(principal, "Choose a file listing the returned letters", 422)
    if len(raw) > MAX_UPLOAD_BYTES:
        return error_page(principal, f"The file is larger than {MAX_UPLOAD_BYTES} bytes", 413)
    try:
        text = raw.decode("utf-8-sig")
        results = await apply_returns(
            services, principal, text, reason=data.reason.strip() or DEFAULT_RETURN_REASON
        )
    except UnicodeDecodeError:
        return error_page(principal, "The file is not UTF-8 text", 422)
    except MailboxError as exc:
        return error_page(principal, exc.detail, exc.status_code)
    return Template(
        "paper_returns.html",
        context={
            "principal": principal,
            "results": results,
            "returned": sum(1 for r in results if r.ok),
            "refused": sum(1 for r in results if not r.ok),
        },
    )


async def _retrieve_page(
    services: Services,
    session: AsyncSession,
    principal: Principal,
    *,
    code: str = "",
    error: str | None = None,
    field_errors: dict[str, str] | None = None,
    linked: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Template:
    owned = []
    for account_id in accounts_where(principal, Action.MANAGE_ACCOUNT):
        account = await session.get(Account, account_id)
        if account is not None:
            owned.append(account)
    return Template(
        "retrieve.html",
        context={
            "principal": principal,
            "code": code,
            "owned": owned,
            "new_account": NEW_ACCOUNT,
            "error": error,
            "field_errors": field_errors or {},
            "linked": linked,
            "retrieved": await retrieved_by(session=session, principal=principal),
        },
        status_code=status_code,
        headers=headers,
    )


@get("/retrieve", include_in_schema=False)
async def retrieve_page(
    request: Request, services: Services, session: AsyncSession, code: str = ""
) -> Response[Any]:
    """The form (the letter's QR code fills the code in), and the letters retrieved before."""
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    return await _retrieve_page(services, session, principal, code=code[:64])


@post("/retrieve", include_in_schema=False, status_code=200)
async def retrieve_form(
    request: Request,
    data: Annotated[RetrieveForm, URL_ENCODED],
    services: Services,
    session: AsyncSession,
) -> Response[Any]:
    principal = await _checked(request, services, data.csrf_token)
    if not isinstance(principal, Principal):
        return principal
    try:
        redeemed = await redeem_code(
            services,
            principal,
            data.code,
            account_id=data.account_id or None,
            account_name=data.account_name,
            ip=client_address(request),
        )
    except TooManyAttempts as exc:
        return await _retrieve_page(
            services,
            session,
            principal,
            code=data.code[:64],
            error=exc.detail,
            status_code=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    except InvalidRequest as exc:
        return await _retrieve_page(
            services,
            session,
            principal,
            code=data.code[:64],
            error=exc.detail,
            field_errors={e.field: e.message for e in exc.errors},
            status_code=422,
        )
    except MailboxError as exc:
        return await _retrieve_page(
            services,
            session,
            principal,
            code=data.code[:64],
            error=exc.detail,
            status_code=exc.status_code,
        )
    # A new account's grant is new: the next request's principal holds it.
    return await _retrieve_page(services, session, principal, linked=redeemed.delivery_id)


@get("/deliveries/{delivery_id:str}/paper-copy", include_in_schema=False)
async def paper_copy_download(
    request: Request, delivery_id: str, services: Services
) -> Response[Any]:
    """The electronic copy of a paper delivery (ContentHandover the first time)."""
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    try:
        document = await open_paper_copy(
            services, principal, delivery_id, ip=client_address(request)
        )
    except NotFound as exc:
        return error_page(principal, exc.detail, 404)
    except MailboxError as exc:
        return error_page(principal, exc.detail, exc.status_code)
    return document_response(document)


routes = [
    paper_room_page,
    build_batch_now,
    batch_pdf,
    batch_manifest,
    posted_form,
    returned_form,
    returns_upload,
    retrieve_page,
    retrieve_form,
    paper_copy_download,
]
