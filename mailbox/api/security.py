"""Who is calling: bearer tokens (API) or the session cookie (web pages) become a Principal.

Handlers that need a caller declare a ``principal: Principal`` parameter; the dependency below
raises 401 problems for a missing, invalid or expired token. Web pages use
:func:`principal_or_none` instead (no session: go to the login page), and their state-changing
forms carry the session's form token (:data:`FORM_TOKEN_FIELD`), which a cookie alone does not
prove: the API, called with bearer tokens that no browser attaches by itself, needs none.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from mailbox.errors import NotAuthenticated
from mailbox.identity.principal import Principal, load_client_principal, load_principal
from mailbox.services import Services

__all__ = [
    "FORM_TOKEN_FIELD",
    "SESSION_COOKIE",
    "form_token",
    "form_token_valid",
    "principal_or_none",
    "provide_principal",
]

SESSION_COOKIE = "mailbox_session"
FORM_TOKEN_FIELD = "csrf_token"


def bearer_token(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("Use an 'Authorization: Bearer <token>' header")
        return token.strip()
    return request.cookies.get(SESSION_COOKIE)


async def principal_from_token(
    services: Services, token: str, *, clients: bool = True
) -> Principal:
    """The principal an access token stands for; :class:`NotAuthenticated` if it is invalid,
    expired, or (``clients=False``: web sessions) a machine client's."""
    claims = services.tokens.decode(token)
    async with services.db.session() as session:
        if claims.get("kind") == "client":
            if not clients:
                raise NotAuthenticated("Machine clients have no web session")
            return await load_client_principal(session, claims["sub"])
        return await load_principal(session, claims["sub"])


async def provide_principal(request: Request[Any, Any, Any], services: Services) -> Principal:
    token = bearer_token(request)
    if token is None:
        raise NotAuthenticated("This endpoint needs an access token (POST /api/v1/auth/token)")
    return await principal_from_token(services, token)


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
