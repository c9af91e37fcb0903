"""Machine-to-machine authentication: registering a client's public key and checking the
client assertion it signs to get an access token (OAuth 2.0 ``client_credentials`` with
``private_key_jwt``, RFC 7523), as EPO's and Italy's delivery APIs do.

The assertion is a JWT signed with the client's private key: ``iss`` and ``sub`` are the
client id, ``aud`` is the token endpoint's URL, ``exp`` at most five minutes ahead, ``jti``
unique. Each assertion gets one token: its ``jti`` is remembered (per client, in the database,
so all processes share it) until its ``exp``, and a second use is refused. The private key
never leaves the client's system.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jwt
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.errors import FieldError, InvalidRequest, NotAuthenticated, NotFound
from mailbox.models import Account, ApiClient, ClientAssertionUse, Office, Role
from mailbox.models.parties import ACCOUNT_ROLES, OFFICE_ROLES

__all__ = ["ASSERTION_TYPE", "authenticate_client", "register_client"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ["ES256", "ES384", "RS256", "PS256"]
MAX_ASSERTION_LIFETIME = 300
MAX_JTI_LENGTH = 255


def _public_jwk(public_key_pem: str) -> dict[str, Any]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    try:
        key = serialization.load_pem_public_key(public_key_pem.encode())
    except ValueError:
        raise InvalidRequest(
            "The public key is not a PEM public key",
            errors=[FieldError("public_key", "PEM 'BEGIN PUBLIC KEY' expected")],
        ) from None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return json.loads(ECAlgorithm.to_jwk(key))
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048:
        return json.loads(RSAAlgorithm.to_jwk(key))
    raise InvalidRequest(
        "Only EC keys and RSA keys of 2048 bits or more are accepted",
        errors=[FieldError("public_key", "unsupported key type or size")],
    )


async def register_client(
    *,
    session: AsyncSession,
    name: str,
    role: Role,
    public_key_pem: str,
    office_id: str | None = None,
    account_id: str | None = None,
) -> ApiClient:
    """Register a machine client acting with ``role`` on one office or one account."""
    if (office_id is None) == (account_id is None):
        raise InvalidRequest("A client acts for exactly one office or one account")
    if office_id is not None and role not in OFFICE_ROLES:
        raise InvalidRequest(f"{role} is not an office role", errors=[FieldError("role", "")])
    if account_id is not None and role not in ACCOUNT_ROLES:
        raise InvalidRequest(f"{role} is not an account role", errors=[FieldError("role", "")])
    if office_id is not None and await session.get(Office, office_id) is None:
        raise NotFound(f"No office {office_id}")
    if account_id is not None and await session.get(Account, account_id) is None:
        raise NotFound(f"No account {account_id}")
    client = ApiClient(
        name=name.strip() or "client",
        role=role.value,
        office_id=office_id,
        account_id=account_id,
        public_jwk=_public_jwk(public_key_pem),
    )
    session.add(client)
    await session.flush()
    return client


async def authenticate_client(
    *, session: AsyncSession, assertion: str, token_endpoint: str, client_id: str | None = None
) -> ApiClient:
    """The client that signed ``assertion``; :class:`NotAuthenticated` for any flaw."""
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        raise NotAuthenticated("The client assertion is not a JWT") from None
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or (client_id is not None and client_id != issuer):
        raise NotAuthenticated("The client assertion's iss must be the client_id")
    client = await session.get(ApiClient, issuer)
    if client is None or client.disabled:
        raise NotAuthenticated("Unknown or disabled client")
    key = jwt.PyJWK(client.public_jwk)
    try:
        claims = jwt.decode(
            assertion,
            key.key,
            algorithms=ALGORITHMS,
            audience=token_endpoint,
            issuer=client.id,
            options={"require": ["iss", "sub", "aud", "exp", "jti"], "verify_exp": False},
        )
    except jwt.InvalidTokenError as exc:
        raise NotAuthenticated(f"The client assertion is invalid: {exc}") from None
    moment = now().timestamp()
    if claims["sub"] != client.id:
        raise NotAuthenticated("The client assertion's sub must be the client_id")
    if not isinstance(claims["exp"], int | float) or isinstance(claims["exp"], bool):
        raise NotAuthenticated("The client assertion's exp must be a number")
    if claims["exp"] <= moment:
        raise NotAuthenticated("The client assertion has expired")
    if claims["exp"] > moment + MAX_ASSERTION_LIFETIME + 30:
        raise NotAuthenticated(
            f"The client assertion may be valid for at most {MAX_ASSERTION_LIFETIME} seconds"
        )
    jti = claims["jti"]
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise NotAuthenticated(
            f"The client assertion's jti must be a string of 1 to {MAX_JTI_LENGTH} characters"
        )
    expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    if not await _first_use(session=session, client_id=client.id, jti=jti, expires_at=expires_at):
        raise NotAuthenticated(
            "The client assertion was already used; sign a new one with a new jti"
        )
    client.last_used_at = now()
    session.add(client)
    return client


async def _first_use(
    *, session: AsyncSession, client_id: str, jti: str, expires_at: datetime
) -> bool:
    """Remember ``jti`` of ``client_id`` until ``expires_at``; False if it was already used.

    The insert skips a row that exists (primary key (client_id, jti)), so two processes given
    the same assertion at once cannot both succeed. Expired rows are deleted first: an
    assertion lives at most a few minutes, so they are few and this keeps the table small.
    """
    connection = await session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    await session.execute(
        delete(ClientAssertionUse).where(col(ClientAssertionUse.expires_at) <= now())
    )
    inserted = await session.execute(
        dialect.insert(ClientAssertionUse)
        .values(client_id=client_id, jti=jti, expires_at=expires_at)
        .on_conflict_do_nothing()
    )
    return inserted.rowcount == 1  # type: ignore[attr-defined]
