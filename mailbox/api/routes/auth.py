"""OAuth 2.0-shaped token endpoint and the service's public keys (JWKS)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body

from mailbox.access import authenticate_password
from mailbox.api.problems import problem_response
from mailbox.api.schemas import ProblemDetails, TokenPublic
from mailbox.errors import NotAuthenticated
from mailbox.services import Services


@dataclass
class TokenForm:
    grant_type: str
    username: str | None = None
    password: str | None = None


@post(
    "/api/v1/auth/token",
    tags=["auth"],
    summary="Exchange credentials for a short-lived access token (RFC 6749)",
    status_code=200,
    responses={400: None},  # documented through the problem schema below
)
async def issue_token(
    data: Annotated[TokenForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    services: Services,
) -> Response[TokenPublic] | Response[ProblemDetails]:
    """`grant_type=password` with `username` (email) and `password`. The token is an ES256 JWT
    with `kid`, `aud` and `exp`; present it as `Authorization: Bearer <token>`."""
    if data.grant_type != "password":
        return problem_response(
            400,
            f"grant_type {data.grant_type!r} is not supported here; use 'password'",
            type_="/problems/unsupported-grant-type",
            oauth_error="unsupported_grant_type",
        )
    if not data.username or not data.password:
        return problem_response(
            400,
            "username and password are required",
            type_="/problems/invalid-request",
            oauth_error="invalid_request",
        )
    try:
        async with services.db.session() as session:
            user = await authenticate_password(session, data.username, data.password)
    except NotAuthenticated as exc:
        return problem_response(
            400, exc.detail, type_="/problems/invalid-grant", oauth_error="invalid_grant"
        )
    token = services.tokens.issue(user.id)
    return Response(
        TokenPublic(token.token, token.expires_in), headers={"Cache-Control": "no-store"}
    )


@get("/.well-known/jwks.json", tags=["auth"], summary="Public keys that sign access tokens")
async def jwks(services: Services) -> dict[str, Any]:
    return services.tokens.jwks()
