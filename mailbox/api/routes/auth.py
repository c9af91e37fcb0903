"""OAuth 2.0-shaped token endpoint, the service's public keys (JWKS), and changing one's
password (which ends every earlier token)."""

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
from mailbox.api.schemas.accounts import PasswordChange
from mailbox.api.schemas.deliveries import FieldProblem, ProblemDetails, TokenPublic
from mailbox.api.schemas.rules import Rules
from mailbox.api.security import client_address, people_only
from mailbox.errors import NotAuthenticated, TooManyAttempts
from mailbox.identity.auth import AccessToken
from mailbox.identity.clients import ASSERTION_TYPE, authenticate_client
from mailbox.identity.principal import Principal
from mailbox.identity.second_factor import (
    Need,
    SecondFactorLimits,
    check_second_factor,
    need_after_password,
)
from mailbox.identity.sessions import change_password
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
    # People with two-step log-in: a code of their authenticator app, or a recovery code.
    totp: str | None = None
    # Machine clients: the scopes wanted, space-separated (RFC 6749 section 3.3); by default
    # all the client was registered with.
    scope: str | None = None

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
            "RFC 6749 answers every refusal of a token request with 400. Also a second factor "
            "that is required (`type` /problems/second-factor-required: send `totp`) or was "
            "wrong or used already (`type` /problems/second-factor-invalid).",
            429: "Too many failed password log-ins for this username or from this address, "
            "or too many wrong second-factor codes for this person: refused, whatever the "
            "password or code, for the `Retry-After` seconds.",
            403: "The person must set up two-step log-in (dispatchers and auditors) before "
            "getting a token: log in once in the browser (`type` "
            "/problems/second-factor-enrolment-required).",
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
    `exp` within 5 minutes, `jti`; `kid` in the header names the key when it holds two) and,
    optionally, `scope`: fewer scopes than it was registered with. The token is an ES256 JWT
    with `kid`, `aud` and `exp`;
    present it as `Authorization: Bearer <token>`. Repeated failed password log-ins lock the
    username, or the client address, out for a while (429 with `Retry-After`); each client
    assertion gets one token only (its `jti` may not be used again). A person with two-step
    log-in also sends `totp`: the code their authenticator app shows (each code is good once)
    or one of their recovery codes; wrong codes are throttled per person (429). Dispatchers and
    auditors must have two-step log-in: without it they get no token (403) until they have set
    it up in the browser."""
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
    refused = await _second_factor(services, user.id, data.totp)
    if refused is not None:
        return refused
    return _token_response(services.tokens.issue(user.id, epoch=user.credentials_epoch))


async def _second_factor(
    services: Services, user_id: str, code: str | None
) -> Response[ProblemDetails] | None:
    """None when the person needs no second factor or ``code`` is a right one; else the
    problem to answer."""
    need = await need_after_password(services.db, user_id)
    if need is Need.ENROL:
        return problem_response(
            403,
            "Two-step log-in is required for dispatchers and auditors and is not set up for "
            "this account: log in once at /login in a browser to set it up.",
            type_="/problems/second-factor-enrolment-required",
            oauth_error="invalid_grant",
        )
    if need is Need.NONE:
        return None
    if not code or not code.strip():
        return problem_response(
            400,
            "This account uses two-step log-in: send the code of the authenticator app (or a "
            "recovery code) as `totp`.",
            type_="/problems/second-factor-required",
            errors=[FieldProblem("totp", "required for this account")],
            oauth_error="invalid_grant",
        )
    try:
        await check_second_factor(
            services.db, SecondFactorLimits.from_settings(services.settings), user_id, code
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
            400,
            exc.detail,
            type_="/problems/second-factor-invalid",
            errors=[FieldProblem("totp", "wrong or already used")],
            oauth_error="invalid_grant",
        )
    return None


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
            jwks=services.jwks,
        )
    except NotAuthenticated as exc:
        return problem_response(
            400, exc.detail, type_="/problems/invalid-client", oauth_error="invalid_client"
        )
    wanted = set(data.scope.split()) if data.scope else set(client.scopes)
    beyond = sorted(wanted - set(client.scopes))
    if beyond:
        return problem_response(
            400,
            f"The client was not registered with {', '.join(beyond)}; it may ask for "
            f"{' '.join(client.scopes) or 'no scope'}",
            type_="/problems/invalid-scope",
            errors=[FieldProblem("scope", f"{s} was not registered") for s in beyond],
            oauth_error="invalid_scope",
        )
    scope = " ".join(sorted(wanted))
    return _token_response(services.tokens.issue(client.id, kind="client", scope=scope), scope)


def _token_response(token: AccessToken, scope: str | None = None) -> Response[TokenPublic]:
    body = TokenPublic(token.token, token.expires_in)
    if scope is not None:
        body.scope = scope
    return Response(body, headers={"Cache-Control": "no-store"})


@post(
    "/api/v1/account/password",
    tags=["auth"],
    summary="Change your password; every earlier session and token ends",
    status_code=200,
    guards=[people_only],
    responses=problem_responses(
        401,
        415,
        details={
            403: "Machine clients have no password.",
            422: "The current password is wrong, or the new one is too short, a common or "
            "breached password, or contains your email address; `errors` names the field.",
            429: "Too many wrong passwords for this user or from this address (the log-in "
            "limits): refused for the `Retry-After` seconds.",
        },
    ),
)
async def change_own_password(
    request: Request[Any, Any, Any], data: PasswordChange, principal: Principal, services: Services
) -> Response[TokenPublic]:
    """Give the `current_password` and a `new_password` (at least 10 characters, not a common
    or breached password, not containing your email address). A wrong current password counts
    as a failed log-in. Every access token issued before, the one of this request and every
    web session included, stops working; the answer carries a fresh token."""
    user = await change_password(
        services.db,
        LoginLimits.from_settings(services.settings),
        user_id=principal.user_id,
        current_password=data.current_password,
        new_password=data.new_password,
        address=client_address(request),
    )
    return _token_response(services.tokens.issue(user.id, epoch=user.credentials_epoch))


@get(
    "/.well-known/jwks.json",
    tags=["auth"],
    summary="Public keys that sign access tokens",
    security=NO_TOKEN,
)
async def jwks(services: Services) -> dict[str, Any]:
    return services.tokens.jwks()
