"""OAuth 2.0-shaped token endpoint and the service's public keys (JWKS)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import ValidationException
from litestar.openapi.spec import Schema
from litestar.params import Body
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.api.problems import oauth_invalid_request, problem_response, problem_responses
from mailbox.api.schemas.deliveries import ProblemDetails, TokenPublic
from mailbox.api.schemas.rules import Rules
from mailbox.api.security import client_address
from mailbox.errors import NotAuthenticated, TooManyAttempts
from mailbox.identity.auth import AccessToken
from mailbox.identity.clients import ASSERTION_TYPE, authenticate_client
from mailbox.identity.throttle import LoginLimits, log_in_with_password
from mailbox.services import Services


@dataclass
class TokenForm:
    """RFC 6749 token request: ``password`` (people) or ``client_credentials`` with a
    ``private_key_jwt`` client assertion (machines, RFC 7523)."""

    grant_type: str
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    client_assertion_type: str | None = None
    client_assertion: str | None = None

    __rules__: ClassVar[Rules] = Rules(
        fields={"grant_type": {"enum": ["password", "client_credentials"]}},
        one_of=(
            Schema(
                properties={"grant_type": Schema(const="password")},
                required=["grant_type", "username", "password"],
            ),
            Schema(
                properties={
                    "grant_type": Schema(const="client_credentials"),
                    "client_assertion_type": Schema(const=ASSERTION_TYPE),
                },
                required=["grant_type", "client_assertion_type", "client_assertion"],
            ),
        ),
    )


# Public: this is where a token is obtained.
NO_TOKEN: list[dict[str, list[str]]] = [{}]


@post(
    "/api/v1/auth/token",
    tags=["auth"],
    summary="Exchange credentials for a short-lived access token (RFC 6749)",
    status_code=200,
    security=NO_TOKEN,
    # RFC 6749 section 5.2: every refusal of a token request is a 400 with an OAuth error code.
    exception_handlers={ValidationException: oauth_invalid_request},
    responses=problem_responses(
        details={
            400: "Bad credentials (`error`: invalid_grant / invalid_client), an unsupported "
            "grant_type (unsupported_grant_type) or a field missing or bad (invalid_request): "
            "RFC 6749 answers every refusal of a token request with 400.",
            429: "Too many failed password log-ins for this username or from this address: "
            "refused, whatever the password, for the `Retry-After` seconds.",
            415: "The body is not `application/x-www-form-urlencoded`.",
        }
    ),
)
async def issue_token(
    request: Request[Any, Any, Any],
    data: Annotated[TokenForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    services: Services,
    session: AsyncSession,
) -> Response[TokenPublic] | Response[ProblemDetails]:
    """People: `grant_type=password` with `username` (email) and `password`. Machines:
    `grant_type=client_credentials` with `client_assertion_type=
    urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and a `client_assertion` JWT signed
    by the client's registered key (`iss` = `sub` = client id, `aud` = this endpoint's URL,
    `exp` within 5 minutes, `jti`). The token is an ES256 JWT with `kid`, `aud` and `exp`;
    present it as `Authorization: Bearer <token>`. Repeated failed password log-ins lock the
    username, or the client address, out for a while (429 with `Retry-After`); each client
    assertion gets one token only (its `jti` may not be used again)."""
    if data.grant_type == "client_credentials":
        return await _client_credentials(data, services, session)
    if data.grant_type != "password":
        return problem_response(
            400,
            f"grant_type {data.grant_type!r} is not supported; use 'password' or "
            "'client_credentials'",
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
        user = await log_in_with_password(
            services.db,
            LoginLimits.from_settings(services.settings),
            email=data.username,
            password=data.password,
            address=client_address(request),
        )
    except TooManyAttempts as exc:
        return problem_response(
            429,
            exc.detail,
            type_=exc.type,
            title=exc.title,
            headers={"Retry-After": str(exc.retry_after)},
        )
    except NotAuthenticated as exc:
        return problem_response(
            400, exc.detail, type_="/problems/invalid-grant", oauth_error="invalid_grant"
        )
    return _token_response(services.tokens.issue(user.id))


async def _client_credentials(
    data: TokenForm, services: Services, session: AsyncSession
) -> Response[TokenPublic] | Response[ProblemDetails]:
    if data.client_assertion_type != ASSERTION_TYPE or not data.client_assertion:
        return problem_response(
            400,
            f"client_credentials needs client_assertion_type={ASSERTION_TYPE} and a "
            "client_assertion",
            type_="/problems/invalid-request",
            oauth_error="invalid_request",
        )
    endpoint = f"{services.settings.public_base_url.rstrip('/')}/api/v1/auth/token"
    try:
        client = await authenticate_client(
            session=session,
            assertion=data.client_assertion,
            token_endpoint=endpoint,
            client_id=data.client_id,
        )
    except NotAuthenticated as exc:
        return problem_response(
            400, exc.detail, type_="/problems/invalid-client", oauth_error="invalid_client"
        )
    return _token_response(services.tokens.issue(client.id, kind="client"))


def _token_response(token: AccessToken) -> Response[TokenPublic]:
    return Response(
        TokenPublic(token.token, token.expires_in), headers={"Cache-Control": "no-store"}
    )


@get(
    "/.well-known/jwks.json",
    tags=["auth"],
    summary="Public keys that sign access tokens",
    security=NO_TOKEN,
)
async def jwks(services: Services) -> dict[str, Any]:
    return services.tokens.jwks()
