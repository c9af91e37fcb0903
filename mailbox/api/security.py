"""Who is calling: bearer tokens (API) or the session cookie (web pages) become a Principal.

Handlers that need a caller declare a ``principal: Principal`` parameter; the dependency below
raises 401 problems for a missing, invalid or expired token.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State

from mailbox.access import Principal, load_client_principal, load_principal
from mailbox.errors import NotAuthenticated
from mailbox.services import Services

__all__ = ["SESSION_COOKIE", "provide_principal", "provide_services"]

SESSION_COOKIE = "mailbox_session"


def provide_services(state: State) -> Services:
    return state.services


def bearer_token(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("Use an 'Authorization: Bearer <token>' header")
        return token.strip()
    return request.cookies.get(SESSION_COOKIE)


async def provide_principal(request: Request[Any, Any, Any], services: Services) -> Principal:
    token = bearer_token(request)
    if token is None:
        raise NotAuthenticated("This endpoint needs an access token (POST /api/v1/auth/token)")
    claims = services.tokens.decode(token)
    async with services.db.session() as session:
        if claims.get("kind") == "client":
            return await load_client_principal(session, claims["sub"])
        return await load_principal(session, claims["sub"])
