"""Who is calling: bearer tokens (API) or the session cookie (web pages) become a Principal.

Handlers that need a caller declare a ``principal: Principal`` parameter. The API takes bearer
tokens only, never the session cookie: a browser attaches a cookie to requests another site
makes it send, never an ``Authorization`` header. The :func:`authenticate` guard resolves the
token from the headers before anything of the request body is read (an anonymous upload is
refused before it is received) and raises 401 problems for a missing, invalid or expired
token; the ``principal`` dependency (:func:`provide_principal`) hands the handler what it found.
Web pages use :func:`principal_or_none` instead (the cookie; no session: go to the login page),
and their state-changing forms carry the session's form token (:data:`FORM_TOKEN_FIELD`), which
a cookie alone does not prove. The log-in form, which has no session yet, carries a token bound
to a random cookie of its own (:func:`login_form_token`), and log-in and log-out refuse a post
whose ``Origin`` is another site's (:func:`foreign_origin`).
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from mailbox.db import retry_transient
from mailbox.errors import InsufficientScope, NotAuthenticated, PermissionDenied
from mailbox.identity.clients import load_client_principal
from mailbox.identity.policy import Action, offices_where, route_scope_refusal
from mailbox.identity.principal import Principal, load_principal
from mailbox.identity.sessions import check_current
from mailbox.services import Services

__all__ = [
    "FORM_TOKEN_FIELD",
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "authenticate",
    "client_address",
    "foreign_origin",
    "form_token",
    "form_token_valid",
    "login_form_token",
    "login_form_token_valid",
    "login_nonce",
    "may_dispatch",
    "people_only",
    "principal_or_none",
    "provide_principal",
]

SESSION_COOKIE = "mailbox_session"
# A random value the log-in page gives the browser, which the log-in form's token is bound to.
LOGIN_COOKIE = "mailbox_login"
FORM_TOKEN_FIELD = "csrf_token"
# The handler parameter naming the caller, and where the guard keeps it on the request.
_PRINCIPAL = "principal"


def client_address(request: Request[Any, Any, Any]) -> str | None:
    """The caller's address as the server saw it (behind a proxy named in
    ``MAILBOX_TRUSTED_PROXIES``, the client it forwarded for): for evidence and log-in limits."""
    return request.client.host if request.client else None


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The bearer token of the ``Authorization`` header, or ``None`` without the header."""
    header = connection.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("Use an 'Authorization: Bearer <token>' header")
    return token.strip()


async def principal_from_token(
    services: Services, token: str, *, clients: bool = True
) -> Principal:
    """The principal an access token stands for; :class:`NotAuthenticated` if it is invalid,
    expired, logged out, older than its user's last password change, or (``clients=False``:
    web sessions) a machine client's."""
    claims = services.tokens.decode(token)

    async def load() -> Principal:
        async with services.db.session() as session:
            await check_current(session=session, claims=claims)
            if claims.get("kind") == "client":
                if not clients:
                    raise NotAuthenticated("Machine clients have no web session")
                scope = claims.get("scope")
                return await load_client_principal(
                    session,
                    claims["sub"],
                    token_scopes=None if scope is None else frozenset(scope.split()),
                )
            return await load_principal(session, claims["sub"])

    # A read: run again in a fresh session when the database connection was lost.
    return await retry_transient(load, what="principal")


async def _caller(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The principal of the request's bearer token, found once and kept on the request."""
    principal: Principal | None = connection.state.get(_PRINCIPAL)
    if principal is None:
        token = bearer_token(connection)
        if token is None:
            raise NotAuthenticated("This endpoint needs an access token (POST /api/v1/auth/token)")
        principal = await principal_from_token(connection.app.state.services, token)
        connection.state[_PRINCIPAL] = principal
    return principal


async def authenticate(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Guard of every handler: one that declares ``principal`` is called only with a valid
    bearer token (401 otherwise), checked from the headers before its body is read; a machine
    client only with the scope the route policy table names for the route (403 otherwise,
    ``insufficient_scope``)."""
    if _PRINCIPAL in handler.parsed_fn_signature.parameters:
        principal = await _caller(connection)
        route_key = f"{connection.scope['method']} {connection.scope['path_template']}"  # type: ignore[typeddict-item]
        refusal = route_scope_refusal(principal, route_key)
        if refusal is not None:
            raise InsufficientScope(refusal)


async def people_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of the routes about a person's own credentials: a machine client has none (403),
    refused before the body is read."""
    if (await _caller(connection)).kind != "user":
        raise PermissionDenied("Machine clients have no password; they sign client assertions")


async def may_dispatch(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of the dispatch route: only an office's dispatchers send a document (403
    otherwise), refused before the document is received. Which office is the handler's."""
    if not offices_where(await _caller(connection), Action.DISPATCH):
        raise PermissionDenied("Only an office's dispatchers may dispatch documents")


async def may_record_outages(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard of recording an outage: only an office's dispatchers (403 otherwise), refused
    before the body is read. Which office is the handler's."""
    if not offices_where(await _caller(connection), Action.MANAGE_OFFICE):
        raise PermissionDenied("Only an office's dispatchers may record its outages")


async def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """The caller the :func:`authenticate` guard found."""
    return await _caller(request)


async def principal_or_none(
    request: Request[Any, Any, Any], services: Services
) -> Principal | None:
    """The principal of the web session (the cookie only, the same token the form token is
    bound to), or ``None`` without a valid one."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return await principal_from_token(services, token, clients=False)
    except NotAuthenticated:
        return None


def form_token(request: Request[Any, Any, Any], services: Services) -> str:
    """The form token of the request's web session (empty without a session)."""
    session_token = request.cookies.get(SESSION_COOKIE)
    return services.tokens.form_token(session_token) if session_token else ""


def form_token_valid(request: Request[Any, Any, Any], services: Services, submitted: str) -> bool:
    """True when a posted form carries the form token of the session that posts it."""
    session_token = request.cookies.get(SESSION_COOKIE)
    return bool(session_token and submitted) and services.tokens.form_token_matches(
        session_token, submitted
    )


def login_nonce(request: Request[Any, Any, Any]) -> str:
    """The browser's log-in cookie value, or a new one to set (32 random bytes)."""
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)


def login_form_token(services: Services, nonce: str) -> str:
    """The token the log-in form carries: an HMAC of the log-in cookie that only this service
    computes, so another site can neither read nor forge it (no log-in CSRF)."""
    return services.tokens.form_token(f"login:{nonce}")


def login_form_token_valid(
    request: Request[Any, Any, Any], services: Services, submitted: str
) -> bool:
    """True when a posted log-in form carries the token of the browser's log-in cookie."""
    nonce = request.cookies.get(LOGIN_COOKIE)
    return bool(nonce and submitted) and services.tokens.form_token_matches(
        f"login:{nonce}", submitted
    )


# Sec-Fetch-Site values of a request another site (or a sibling subdomain) made.
_OTHER_SITES = frozenset({"cross-site", "same-site"})


def _origin(url: str) -> str:
    parts = urlsplit(url.strip().lower())
    return f"{parts.scheme}://{parts.netloc}"


def foreign_origin(request: Request[Any, Any, Any], services: Services) -> bool:
    """True when the browser says the request comes from another site: an ``Origin`` that is
    neither this service's public one (``MAILBOX_PUBLIC_BASE_URL``) nor the one the browser
    addressed (``Host``), or ``Sec-Fetch-Site: cross-site`` / ``same-site``. ``Origin: null``
    proves nothing either way (our pages' ``Referrer-Policy: no-referrer`` makes browsers send
    it on our own form posts), and a request without these headers (not a browser) is judged
    by its form token alone."""
    if request.headers.get("sec-fetch-site", "").lower() in _OTHER_SITES:
        return True
    origin = request.headers.get("origin")
    if origin is None or origin.strip().lower() == "null":
        return False
    ours = {
        _origin(services.settings.public_base_url),
        _origin(f"{request.url.scheme}://{request.headers.get('host', '')}"),
    }
    return _origin(origin) not in ours
