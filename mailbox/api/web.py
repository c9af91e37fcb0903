"""Web pages for people: log in, the inbox, one delivery with its timeline and download.

Pages hold no rules: they call the same domain functions as the API. The session is the same
access token in an HttpOnly, SameSite=Strict cookie, so another site cannot make a browser
"pick up" a document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from litestar.response import Redirect, Template

from mailbox.access import Principal, authenticate_password, load_principal
from mailbox.api.schemas import DeliveryPublic
from mailbox.api.security import SESSION_COOKIE, bearer_token
from mailbox.errors import MailboxError, NotAuthenticated
from mailbox.inbox import get_delivery, list_inbox, timeline
from mailbox.services import Services

__all__ = ["routes"]


async def _principal_or_none(request: Request, services: Services) -> Principal | None:
    try:
        token = bearer_token(request)
        if token is None:
            return None
        claims = services.tokens.decode(token)
        async with services.db.session() as session:
            return await load_principal(session, claims["sub"])
    except NotAuthenticated:
        return None


@get("/", include_in_schema=False)
async def home(request: Request, services: Services) -> Redirect:
    principal = await _principal_or_none(request, services)
    return Redirect("/inbox" if principal else "/login")


@get("/login", include_in_schema=False)
async def login_page(error: str | None = None) -> Template:
    return Template("login.html", context={"error": error})


@dataclass
class LoginForm:
    email: str = ""
    password: str = ""


@post("/login", include_in_schema=False, status_code=303)
async def login(
    data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    services: Services,
) -> Response[Any]:
    try:
        async with services.db.session() as session:
            user = await authenticate_password(session, data.email, data.password)
    except NotAuthenticated as exc:
        return Template("login.html", context={"error": exc.detail}, status_code=401)
    token = services.tokens.issue(user.id)
    response = Redirect("/inbox", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token.token,
        max_age=token.expires_in,
        httponly=True,
        samesite="strict",
        secure=services.settings.public_base_url.startswith("https"),
    )
    return response


@post("/logout", include_in_schema=False, status_code=303)
async def logout() -> Redirect:
    response = Redirect("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@get("/inbox", include_in_schema=False)
async def inbox_page(
    request: Request,
    services: Services,
    cursor: str | None = None,
    unread: bool | None = None,
    dossier: Annotated[str | None, Parameter(query="dossier")] = None,
) -> Response[Any]:
    principal = await _principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    try:
        async with services.db.session() as session:
            page = await list_inbox(
                session=session,
                principal=principal,
                limit=25,
                cursor=cursor,
                unread=unread,
                dossier_number=dossier or None,
            )
    except MailboxError as exc:
        return Template("error.html", context={"error": exc.detail}, status_code=exc.status_code)
    return Template(
        "inbox.html",
        context={
            "principal": principal,
            "items": [DeliveryPublic.of(v) for v in page.items],
            "next_cursor": page.next_cursor,
            "unread": unread,
            "dossier": dossier or "",
        },
    )


@get("/deliveries/{delivery_id:str}", include_in_schema=False)
async def delivery_page(request: Request, delivery_id: str, services: Services) -> Response[Any]:
    principal = await _principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    try:
        async with services.db.session() as session:
            view = await get_delivery(session=session, principal=principal, delivery_id=delivery_id)
            records = await timeline(session=session, delivery_id=delivery_id)
    except MailboxError as exc:
        return Template("error.html", context={"error": exc.detail}, status_code=exc.status_code)
    return Template(
        "delivery.html",
        context={
            "principal": principal,
            "d": DeliveryPublic.of(view, records),
            "can_download": view.delivery.account_id in principal.account_roles,
        },
    )


routes = [home, login_page, login, logout, inbox_page, delivery_page]
