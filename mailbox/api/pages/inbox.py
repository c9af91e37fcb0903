"""Web pages for people: log in, the inbox, one delivery with its timeline and download.

Pages hold no rules: they call the same domain functions as the API. The session is the same
access token in an HttpOnly, SameSite=Strict cookie, so another site cannot make a browser
"pick up" a document; forms that change something also carry the session's form token
(``{{ form_token_input() }}`` in a template). The notification settings pages are in
mailbox.api.pages.settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from litestar.response import Redirect, Template
from litestar.template import TemplateEngineProtocol
from markupsafe import Markup
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.api.pages.sessions import after_password
from mailbox.api.schemas.deliveries import DeliveryPublic
from mailbox.api.security import (
    FORM_TOKEN_FIELD,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    client_address,
    foreign_origin,
    form_token,
    form_token_valid,
    login_form_token,
    login_form_token_valid,
    login_nonce,
    principal_or_none,
)
from mailbox.clock import now
from mailbox.deliveries.data_documents import document_words, is_data
from mailbox.deliveries.inbox import list_inbox, list_on_paper, read_delivery
from mailbox.deliveries.legal_clock import explain
from mailbox.deliveries.retention import removed_notice
from mailbox.deliveries.rules import content_available
from mailbox.errors import MailboxError, NotAuthenticated, TooManyAttempts
from mailbox.identity import policy
from mailbox.identity.policy import can_pick_up
from mailbox.identity.principal import Principal
from mailbox.identity.sessions import log_out
from mailbox.identity.throttle import LoginLimits, log_in_with_password
from mailbox.proof.bundle import proof_contents
from mailbox.services import Services

__all__ = [
    "FormTokenForm",
    "error_page",
    "form_refused",
    "register_template_callables",
    "routes",
]

# A form post was forged, or its page is older than the session (logged in again since).
FORM_REFUSED = (
    "This form has expired or did not come from this site, so nothing was changed. "
    "Reload the page and try again."
)


@dataclass
class FormTokenForm:
    """A form that only says "do it": its one field is the session's form token."""

    csrf_token: str = ""


def _form_token_input(context: Mapping[str, Any]) -> Markup:
    request = context["request"]
    token = form_token(request, request.app.state.services)
    return Markup('<input type="hidden" name="{}" value="{}">').format(FORM_TOKEN_FIELD, token)


def register_template_callables(engine: TemplateEngineProtocol) -> None:
    """Give the templates ``form_token_input()``: the hidden field every state-changing form
    carries (an empty value without a session), and the access policy's answers they show or
    hide links by (``reads_any_account(principal)``, ``reads_any_office(principal)``,
    ``prints_any_office(principal)``), and what a document is in words
    (``document_words(media_type, kind_code)``: "sealed PDF", "JSON notice", ...)."""
    engine.register_template_callable("form_token_input", _form_token_input)
    engine.engine.globals.update(  # type: ignore[attr-defined]
        reads_any_account=policy.reads_any_account,
        reads_any_office=policy.reads_any_office,
        prints_any_office=policy.prints_any_office,
        document_words=document_words,
        is_data=is_data,
    )


def error_page(principal: Principal | None, detail: str, status_code: int) -> Template:
    """The error page: the problem in words and the way back to the inbox, never a trace."""
    return Template(
        "error.html",
        context={"principal": principal, "error": detail},
        status_code=status_code,
    )


def form_refused(principal: Principal | None) -> Template:
    """The answer to a form post without the session's form token (403)."""
    return error_page(principal, FORM_REFUSED, 403)


@get("/", include_in_schema=False)
async def home(request: Request, services: Services) -> Redirect:
    principal = await principal_or_none(request, services)
    return Redirect("/inbox" if principal else "/login")


# What ``/login?error=<code>`` may show: only our own words, never text from the link.
LOGIN_MESSAGES = {"expired": "Your session has expired. Please log in again."}
# The log-in cookie outlives any page left open for a while; it is not a credential.
LOGIN_COOKIE_SECONDS = 12 * 3600
LOGIN_REFUSED = (
    "This log-in form has expired or did not come from this site. Reload the page and log in again."
)


def _login_form(
    request: Request,
    services: Services,
    *,
    error: str | None = None,
    email: str = "",
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Template:
    """The log-in page, its form bound to the browser's log-in cookie (set when missing)."""
    nonce = login_nonce(request)
    cookies = []
    if request.cookies.get(LOGIN_COOKIE) != nonce:
        cookies.append(
            Cookie(
                key=LOGIN_COOKIE,
                value=nonce,
                max_age=LOGIN_COOKIE_SECONDS,
                path="/",
                httponly=True,
                samesite="strict",
                secure=services.settings.public_base_url.startswith("https"),
            )
        )
    return Template(
        "login.html",
        context={
            "error": error,
            "email": email,
            "login_token": login_form_token(services, nonce),
            "token_field": FORM_TOKEN_FIELD,
        },
        status_code=status_code,
        headers=headers,
        cookies=cookies,
    )


@get("/login", include_in_schema=False)
async def login_page(request: Request, services: Services, error: str | None = None) -> Template:
    """The login form; a known ``error`` code shows its message, anything else nothing."""
    message = LOGIN_MESSAGES.get(error) if error else None
    return _login_form(request, services, error=message)


@dataclass
class LoginForm:
    email: str = ""
    password: str = ""
    csrf_token: str = ""


@post("/login", include_in_schema=False, status_code=303)
async def login(
    request: Request,
    data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    services: Services,
) -> Response[Any]:
    # Another site must not log a browser in (to an account of the attacker's choosing).
    if foreign_origin(request, services) or not login_form_token_valid(
        request, services, data.csrf_token
    ):
        return _login_form(
            request, services, error=LOGIN_REFUSED, email=data.email, status_code=403
        )
    try:
        user = await log_in_with_password(
            services.db,
            LoginLimits.from_settings(services.settings),
            email=data.email,
            password=data.password,
            address=client_address(request),
        )
    except TooManyAttempts as exc:
        return _login_form(
            request,
            services,
            error=exc.detail,
            email=data.email,
            status_code=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    except NotAuthenticated as exc:
        return _login_form(request, services, error=exc.detail, email=data.email, status_code=401)
    # The session starts now, or after the second factor (mailbox.api.pages.sessions).
    return await after_password(request, services, user)


@post("/logout", include_in_schema=False, status_code=303)
async def logout(
    request: Request,
    data: Annotated[FormTokenForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    services: Services,
) -> Response[Any]:
    """End the web session: its token is revoked, so a copy of the cookie stops working too."""
    principal = await principal_or_none(request, services)
    if foreign_origin(request, services):
        return form_refused(principal)
    # An expired or invalid session may always be cleared; a live one only by its own form.
    if principal is not None:
        if not form_token_valid(request, services, data.csrf_token):
            return form_refused(principal)
        await log_out(services.db, services.tokens.decode(request.cookies[SESSION_COOKIE]))
    response = Redirect("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@get("/inbox", include_in_schema=False)
async def inbox_page(
    request: Request,
    services: Services,
    session: AsyncSession,
    cursor: str | None = None,
    unread: bool | None = None,
    dossier: Annotated[str | None, Parameter(query="dossier")] = None,
) -> Response[Any]:
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    if not policy.reads_any_account(principal) and policy.reads_any_office(principal):
        # Office staff have no mailbox of their own: they land on the office's workspace.
        return Redirect("/office/dispatches")
    try:
        page = await list_inbox(
            session=session,
            principal=principal,
            limit=25,
            cursor=cursor,
            unread=unread,
            dossier_number=dossier or None,
        )
        # Deliveries that went on paper without being made available: shown apart, on the
        # first page, with their paper status and reason.
        on_paper = (
            []
            if cursor or unread
            else await list_on_paper(
                session=session, principal=principal, dossier_number=dossier or None
            )
        )
    except MailboxError as exc:
        return error_page(principal, exc.detail, exc.status_code)
    filters = {"dossier": dossier} if dossier else {}
    if unread is not None:
        filters["unread"] = "true" if unread else "false"
    return Template(
        "inbox.html",
        context={
            "principal": principal,
            "items": [DeliveryPublic.of(v) for v in page.items],
            "on_paper": [DeliveryPublic.of(v) for v in on_paper],
            "next_page": (
                "/inbox?" + urlencode({**filters, "cursor": page.next_cursor})
                if page.next_cursor
                else None
            ),
            "unread": unread,
            "dossier": dossier or "",
        },
    )


@get("/deliveries/{delivery_id:str}", include_in_schema=False)
async def delivery_page(
    request: Request, delivery_id: str, services: Services, session: AsyncSession
) -> Response[Any]:
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    try:
        view, records = await read_delivery(
            session=session, principal=principal, delivery_id=delivery_id
        )
    except MailboxError as exc:
        return error_page(principal, exc.detail, exc.status_code)
    delivery = view.delivery
    return Template(
        "delivery.html",
        context={
            "principal": principal,
            "d": DeliveryPublic.of(view, records),
            # Never a button that cannot work: a paper delivery has nothing to download.
            "can_download": can_pick_up(principal, delivery) and content_available(delivery),
            "removed": removed_notice(delivery),
            "proof_contents": proof_contents(principal, delivery),
            "legal_date": explain(delivery, at=now()).sentence,
        },
    )


@get("/deliveries", include_in_schema=False)
async def find_delivery(
    request: Request, services: Services, delivery_id: Annotated[str, Parameter(query="id")] = ""
) -> Redirect:
    """The look-up form of office staff and auditors: go to the delivery with that id."""
    if await principal_or_none(request, services) is None:
        return Redirect("/login")
    if not delivery_id.strip():
        return Redirect("/inbox")
    return Redirect(f"/deliveries/{quote(delivery_id.strip(), safe='')}")


routes = [home, login_page, login, logout, inbox_page, delivery_page, find_delivery]
