"""The workspace's single-dispatch form: find the recipient (a GET search by name, email or
account id, answered by the server, so it works without JavaScript), then send the file with
its kind, dossier number and title.

The form posts to :func:`mailbox.deliveries.dispatch.dispatch`, the use case behind
``POST /api/v1/dispatches``, with the session's form token and a random Idempotency-Key drawn
when the form is shown (a second click or a reload of the post does not serve the document
twice). A refused dispatch shows the form again with the problem's message beside each field
it names (no file, not a PDF, a hostile PDF, an unknown recipient...) and what was typed; a
dispatch that went through goes to its page in the workspace.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.api.bodies import BoundedFormRequest
from mailbox.api.pages.inbox import error_page, form_refused
from mailbox.api.pages.office import WORKSPACE, dispatch_path
from mailbox.api.security import client_address, foreign_origin, form_token_valid, principal_or_none
from mailbox.deliveries.data_documents import media_type_for
from mailbox.deliveries.dispatch import DispatchRequest, dispatch
from mailbox.errors import Conflict, MailboxError, PermissionDenied
from mailbox.identity.accounts import edelivery_status, find_recipients
from mailbox.identity.policy import Action, dispatch_office, offices_where
from mailbox.identity.principal import Principal
from mailbox.models import Account, Office
from mailbox.services import Services

__all__ = ["routes"]

FORM = WORKSPACE + "/new"
# What the form keeps when it is shown again (the file cannot be: browsers never refill one).
KEPT = ("recipient_account_id", "kind_code", "dossier_number", "title")


@dataclass(frozen=True)
class Recipient:
    """An account the clerk may pick, and whether documents reach it electronically."""

    id: str
    name: str
    edelivery: str

    @classmethod
    def of(cls, account: Account) -> Recipient:
        return cls(account.id, account.name, edelivery_status(account).value)


async def _offices(session: AsyncSession, principal: Principal) -> list[Office]:
    found = [await session.get(Office, o) for o in offices_where(principal, Action.DISPATCH)]
    return [office for office in found if office is not None]


async def _form(
    session: AsyncSession,
    principal: Principal,
    *,
    office_id: str,
    values: dict[str, str],
    query: str = "",
    failure: MailboxError | None = None,
    idempotency_key: str | None = None,
) -> Template:
    """The form, with the search's results (or the chosen recipient) as the choices."""
    choices: list[Recipient] = []
    search_error = None
    if query.strip():
        try:
            accounts = await find_recipients(session=session, principal=principal, query=query)
            choices = [Recipient.of(a) for a in accounts]
        except MailboxError as exc:
            search_error = exc.detail
    chosen = values.get("recipient_account_id", "")
    if chosen and all(c.id != chosen for c in choices):
        account = await session.get(Account, chosen)
        choices.insert(0, Recipient.of(account) if account else Recipient(chosen, chosen, ""))
    errors: dict[str, list[str]] = {}
    for item in failure.errors if failure else ():
        errors.setdefault(item.field, []).append(item.message)
    return Template(
        "office_dispatch_form.html",
        context={
            "principal": principal,
            "offices": await _offices(session, principal),
            "office_id": office_id,
            "values": values,
            "query": query,
            "searched": bool(query.strip()),
            "search_error": search_error,
            "choices": choices,
            "failure": failure,
            "errors": errors,
            "evidence_id": failure.evidence_id if failure else None,
            "idempotency_key": idempotency_key or secrets.token_urlsafe(24),
            "can_dispatch": True,
            "section": "dispatch",
        },
        status_code=failure.status_code if failure else 200,
    )


@get(FORM, include_in_schema=False)
async def dispatch_form(
    request: Request,
    services: Services,
    session: AsyncSession,
    recipient_query: str = "",
    recipient: str = "",
    office_id: str | None = None,
) -> Response[Any]:
    """The form; ``recipient_query`` lists the accounts it finds, ``recipient`` picks one."""
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    # Who dispatches for several offices starts with the first; the form's list changes it.
    first = next(iter(offices_where(principal, Action.DISPATCH)), None)
    try:
        office = dispatch_office(principal, office_id or first)
    except PermissionDenied as exc:
        return error_page(principal, exc.detail, exc.status_code)
    values = {"recipient_account_id": recipient.strip()} if recipient.strip() else {}
    return await _form(
        session, principal, office_id=office, values=values, query=recipient_query[:200]
    )


@dataclass
class DispatchPageForm:
    """The form's multipart body: the API's dispatch fields, the form token and the key."""

    file: UploadFile | None = None
    recipient_account_id: str = ""
    kind_code: str = ""
    dossier_number: str = ""
    title: str = ""
    office_id: str = ""
    idempotency_key: str = ""
    csrf_token: str = ""


@post(WORKSPACE, include_in_schema=False, status_code=303, request_class=BoundedFormRequest)
async def submit_dispatch(
    request: Request,
    data: Annotated[DispatchPageForm, Body(media_type=RequestEncodingType.MULTI_PART)],
    services: Services,
    session: AsyncSession,
) -> Response[Any]:
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login", status_code=303)
    if foreign_origin(request, services) or not form_token_valid(
        request, services, data.csrf_token
    ):
        return form_refused(principal)
    try:
        office = dispatch_office(principal, data.office_id or None)
    except PermissionDenied as exc:
        return error_page(principal, exc.detail, exc.status_code)
    pdf = await data.file.read() if data.file is not None else b""
    filename = data.file.filename if data.file is not None else ""
    try:
        dispatched = await dispatch(
            services,
            DispatchRequest(
                office_id=office,
                recipient_account_id=data.recipient_account_id.strip(),
                kind_code=data.kind_code.strip(),
                dossier_number=data.dossier_number,
                title=data.title,
                filename=filename or "document.pdf",
                pdf=pdf,
                media_type=media_type_for(filename, data.file.content_type if data.file else None),
            ),
            actor=principal.actor,
            actor_ip=client_address(request),
            idempotency_key=data.idempotency_key[:200] or None,
        )
    except MailboxError as exc:
        values = {name: getattr(data, name) for name in KEPT}
        return await _form(
            session,
            principal,
            office_id=office,
            values=values,
            failure=exc,
            # A key already used for another form (posted again after going back) is spent.
            idempotency_key=None if isinstance(exc, Conflict) else data.idempotency_key[:200],
        )
    return Redirect(dispatch_path(dispatched.delivery.id) + "?done=dispatched", status_code=303)


routes = [dispatch_form]
