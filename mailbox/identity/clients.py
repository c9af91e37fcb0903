"""Machine-to-machine authentication: registering a client (its role, its scopes and its
public keys or JWKS URL), rolling its keys over, revoking it, and checking the client
assertion it signs to get an access token (OAuth 2.0 ``client_credentials`` with
``private_key_jwt``, RFC 7523), as EPO's and Italy's delivery APIs do.

The assertion is a JWT signed with the client's private key: ``iss`` and ``sub`` are the
client id, ``aud`` is the token endpoint's URL, ``exp`` at most five minutes ahead, ``jti``
unique. Each assertion gets one token: its ``jti`` is remembered (per client, in the database,
so all processes share it) until its ``exp``, and a second use is refused. The private key
never leaves the client's system.

A client holds at most two registered keys, so that it can roll over: register the new key,
switch, remove the old one. Each key's ``kid`` is its RFC 7638 thumbprint; an assertion naming
a ``kid`` is checked with that key, one without with each key held. A client registered with a
JWKS URL publishes its keys there instead (:mod:`.client_jwks`).

A client is never given more than its owner may do: the scopes it is registered with must be
allowed by its role (:func:`mailbox.identity.policy.scopes_allowed`) and, when a person
registers it, by that person's own roles on the account or office, and its role may allow
nothing that person's roles do not. Registering, adding or removing a key and revoking are
each recorded as evidence (service events, no delivery).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.errors import (
    Conflict,
    FieldError,
    InvalidRequest,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from mailbox.evidence import log as evidence
from mailbox.evidence.log import EvidenceDraft, EvidenceType
from mailbox.identity.client_jwks import JwksCache, check_jwks_url
from mailbox.identity.policy import (
    POLICY,
    Scope,
    can_manage,
    can_manage_office,
    can_read_account,
    can_read_office,
    scopes_allowed,
)
from mailbox.identity.principal import Principal
from mailbox.models import (
    Account,
    ApiClient,
    ApiClientKey,
    ClientAssertionUse,
    Grant,
    Office,
    Role,
    User,
)
from mailbox.models.parties import ACCOUNT_ROLES, OFFICE_ROLES
from mailbox.signing.records import EvidenceSigner

__all__ = [
    "ASSERTION_TYPE",
    "MAX_KEYS",
    "ClientView",
    "add_key",
    "allowed_registration",
    "authenticate_client",
    "get_client",
    "jwk_thumbprint",
    "list_clients",
    "load_client_principal",
    "register_client",
    "remove_key",
    "revoke_client",
]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ["ES256", "ES384", "RS256", "PS256"]
MAX_ASSERTION_LIFETIME = 300
MAX_JTI_LENGTH = 255
MAX_KEYS = 2  # the key in use and its successor, during a rollover
# Who registers clients from the command line (an operator of the service).
CLI_ACTOR = "operator:cli"


@dataclass(frozen=True)
class ClientView:
    """A client and the keys registered for it (none for a JWKS URL client)."""

    client: ApiClient
    keys: list[ApiClientKey]


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


# The members of a JWK its RFC 7638 thumbprint covers, by key type.
_THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK, base64url without padding: the
    ``kid`` a client puts in its assertions' header to name the key it signed with."""
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":")).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _new_key(client_id: str, public_key_pem: str) -> ApiClientKey:
    jwk = _public_jwk(public_key_pem)
    kid = jwk_thumbprint(jwk)
    return ApiClientKey(client_id=client_id, kid=kid, public_jwk={**jwk, "kid": kid})


def _role_actions(roles: frozenset[str], kinds: frozenset[Role]) -> set[str]:
    return {action for action, allowed in POLICY.items() if not roles.isdisjoint(allowed & kinds)}


def _check_scopes(
    requested: list[str] | None,
    role: Role,
    *,
    on_office: bool,
    registrant: Principal | None,
    target: str,
) -> list[str]:
    """The scopes to register: ``requested`` if each is known, allowed by ``role`` and by the
    registrant's own roles on ``target``; without a request (the command line), all ``role``
    allows."""
    allowed = scopes_allowed([role.value], on_office=on_office)
    if registrant is not None:
        held = (registrant.office_roles if on_office else registrant.account_roles).get(
            target, frozenset()
        )
        allowed &= scopes_allowed(held, on_office=on_office)
    if requested is None:
        return sorted(scope.value for scope in allowed)
    known = {scope.value for scope in Scope}
    unknown = [scope for scope in requested if scope not in known]
    if unknown or not requested:
        raise InvalidRequest(
            "Name at least one scope, each one of: " + ", ".join(sorted(known)),
            errors=[FieldError("scopes", f"unknown scope {s}") for s in unknown]
            or [FieldError("scopes", "at least one scope")],
        )
    beyond = sorted({s for s in requested if Scope(s) not in allowed})
    if beyond:
        where = "office" if on_office else "account"
        who = f"the role {role.value}" + (" and your own roles" if registrant else "")
        raise PermissionDenied(
            f"A client may not have more than its owner may do: {', '.join(beyond)} "
            f"{'is' if len(beyond) == 1 else 'are'} not allowed to {who} on this {where}",
            errors=[FieldError("scopes", f"{s} is beyond what {who} allow") for s in beyond],
        )
    return sorted(set(requested))


async def _check_registrant(
    session: AsyncSession,
    registrant: Principal,
    role: Role,
    *,
    office_id: str | None,
    account_id: str | None,
) -> None:
    """A person registers clients only where they manage (an account's owners, an office's
    dispatchers), and never with a role allowing more than their own roles there."""
    if account_id is not None:
        if not can_manage(registrant, account_id):
            if can_read_account(registrant, account_id):
                raise PermissionDenied("Only the account's owners register its clients")
            raise NotFound(f"No account {account_id}")
        held, kinds = registrant.account_roles.get(account_id, frozenset()), ACCOUNT_ROLES
    else:
        assert office_id is not None
        if not can_manage_office(registrant, office_id):
            if can_read_office(registrant, office_id):
                raise PermissionDenied("Only the office's dispatchers register its clients")
            raise NotFound(f"No office {office_id}")
        held, kinds = registrant.office_roles.get(office_id, frozenset()), OFFICE_ROLES
    beyond = _role_actions(frozenset({role.value}), kinds) - _role_actions(held, kinds)
    if beyond:
        raise PermissionDenied(
            f"A client may not have more than its owner may do: the role {role.value} allows "
            f"{', '.join(sorted(beyond))}, which your roles do not",
            errors=[FieldError("role", f"{role.value} is beyond your own roles")],
        )


async def allowed_registration(
    session: AsyncSession,
    *,
    role: Role,
    public_key_pem: str | None,
    jwks_url: str | None,
    allow_private_jwks: bool,
    office_id: str | None,
    account_id: str | None,
    scopes: list[str] | None,
    registrant: Principal | None,
) -> list[str]:
    """Every check of a registration but the key itself, in order (the request's shape, the
    registrant's rights, the scopes): the scopes to grant, or the refusal."""
    if (office_id is None) == (account_id is None):
        raise InvalidRequest(
            "A client acts for exactly one office or one account",
            errors=[FieldError("account_id", "exactly one of account_id and office_id")],
        )
    if (public_key_pem is None) == (jwks_url is None):
        raise InvalidRequest(
            "Give exactly one of public_key and jwks_url",
            errors=[FieldError("public_key", "exactly one of public_key and jwks_url")],
        )
    if office_id is not None and role not in OFFICE_ROLES:
        raise InvalidRequest(
            f"{role} is not an office role", errors=[FieldError("role", "not a role there")]
        )
    if account_id is not None and role not in ACCOUNT_ROLES:
        raise InvalidRequest(
            f"{role} is not an account role", errors=[FieldError("role", "not a role there")]
        )
    if registrant is not None:
        await _check_registrant(
            session, registrant, role, office_id=office_id, account_id=account_id
        )
    if office_id is not None and await session.get(Office, office_id) is None:
        raise NotFound(f"No office {office_id}")
    if account_id is not None and await session.get(Account, account_id) is None:
        raise NotFound(f"No account {account_id}")
    if jwks_url is not None:
        check_jwks_url(jwks_url, allow_private=allow_private_jwks)
    return _check_scopes(
        scopes,
        role,
        on_office=office_id is not None,
        registrant=registrant,
        target=office_id or account_id or "",
    )


async def register_client(
    *,
    session: AsyncSession,
    signer: EvidenceSigner,
    name: str,
    role: Role,
    public_key_pem: str | None = None,
    jwks_url: str | None = None,
    allow_private_jwks: bool = False,
    office_id: str | None = None,
    account_id: str | None = None,
    scopes: list[str] | None = None,
    registrant: Principal | None = None,
) -> ClientView:
    """Register a machine client acting with ``role`` on one office or one account, with
    ``scopes`` (None: all its role allows), and either a public key or a JWKS URL (whose form
    is checked here; :func:`register` also fetches it once first). ``registrant`` is the
    person registering it (None: an operator at the command line). Recorded as
    ClientRegistered evidence."""
    granted = await allowed_registration(
        session,
        role=role,
        public_key_pem=public_key_pem,
        jwks_url=jwks_url,
        allow_private_jwks=allow_private_jwks,
        office_id=office_id,
        account_id=account_id,
        scopes=scopes,
        registrant=registrant,
    )
    client = ApiClient(
        name=name.strip() or "client",
        role=role.value,
        office_id=office_id,
        account_id=account_id,
        scopes=granted,
        created_by=registrant.user_id if registrant is not None else None,
    )
    keys: list[ApiClientKey] = []
    if public_key_pem is not None:
        keys.append(_new_key(client.id, public_key_pem))
    else:
        assert jwks_url is not None
        client.jwks_url = check_jwks_url(jwks_url, allow_private=allow_private_jwks)
    session.add(client)
    await session.flush()
    session.add_all(keys)
    await _record(
        session,
        signer,
        EvidenceType.CLIENT_REGISTERED,
        registrant,
        client,
        role=client.role,
        scopes=granted,
        **({"kid": keys[0].kid} if keys else {"jwks_url": client.jwks_url}),
    )
    return ClientView(client, keys)


async def _record(
    session: AsyncSession,
    signer: EvidenceSigner,
    type_: EvidenceType,
    actor: Principal | None,
    client: ApiClient,
    **details: Any,
) -> None:
    owner = {"account_id": client.account_id} if client.account_id else {}
    owner = owner or {"office_id": client.office_id}
    await evidence.append(
        session,
        signer,
        EvidenceDraft(
            type_,
            actor.actor if actor is not None else CLI_ACTOR,
            details={"client_id": client.id, **owner, **details},
        ),
        delivery_id=None,
    )


async def _keys_of(session: AsyncSession, client_id: str) -> list[ApiClientKey]:
    found = await session.exec(
        select(ApiClientKey)
        .where(ApiClientKey.client_id == client_id)
        .order_by(col(ApiClientKey.created_at), col(ApiClientKey.kid))
    )
    return list(found.all())


def _manages(principal: Principal | None, client: ApiClient) -> bool:
    if principal is None:
        return True
    if client.account_id is not None:
        return can_manage(principal, client.account_id)
    return client.office_id is not None and can_manage_office(principal, client.office_id)


async def _managed_client(
    session: AsyncSession, principal: Principal | None, client_id: str, *, lock: bool = False
) -> ApiClient:
    """The client, if the principal manages its account or office; else it does not exist."""
    query = select(ApiClient).where(ApiClient.id == client_id)
    if lock:
        query = query.with_for_update()
    client = (await session.exec(query)).one_or_none()
    if client is None or not _manages(principal, client):
        raise NotFound(f"No client {client_id}")
    return client


async def list_clients(*, session: AsyncSession, principal: Principal) -> list[ClientView]:
    """The clients of the accounts and offices the principal manages, revoked ones included,
    oldest first."""
    clients = (
        await session.exec(select(ApiClient).order_by(col(ApiClient.created_at), col(ApiClient.id)))
    ).all()
    mine = [client for client in clients if _manages(principal, client)]
    return [ClientView(client, await _keys_of(session, client.id)) for client in mine]


async def get_client(*, session: AsyncSession, principal: Principal, client_id: str) -> ClientView:
    """A client of an account or office the principal manages; else :class:`NotFound`."""
    client = await _managed_client(session, principal, client_id)
    return ClientView(client, await _keys_of(session, client.id))


async def add_key(
    *,
    session: AsyncSession,
    signer: EvidenceSigner,
    principal: Principal | None,
    client_id: str,
    public_key_pem: str,
) -> ClientView:
    """Register a second key, for a rollover: both keys work until the old one is removed.
    :class:`Conflict` for a revoked client, a JWKS URL client, a client holding
    :data:`MAX_KEYS` keys already, or a key it holds already. Recorded as ClientKeyAdded."""
    client = await _managed_client(session, principal, client_id, lock=True)
    if client.disabled:
        raise Conflict(f"Client {client_id} was revoked")
    if client.jwks_url is not None:
        raise Conflict("This client publishes its keys at its JWKS URL; publish the new key there")
    keys = await _keys_of(session, client.id)
    key = _new_key(client.id, public_key_pem)
    if any(held.kid == key.kid for held in keys):
        raise Conflict(f"The client holds this key already (kid {key.kid})")
    if len(keys) >= MAX_KEYS:
        raise Conflict(
            f"A client holds at most {MAX_KEYS} keys: remove the old one "
            f"(DELETE /api/v1/clients/{client.id}/keys/{{kid}}) before adding another"
        )
    session.add(key)
    await session.flush()
    await _record(session, signer, EvidenceType.CLIENT_KEY_ADDED, principal, client, kid=key.kid)
    return ClientView(client, [*keys, key])


async def remove_key(
    *,
    session: AsyncSession,
    signer: EvidenceSigner,
    principal: Principal | None,
    client_id: str,
    kid: str,
) -> ClientView:
    """Remove a key (the old one, after a rollover): assertions it signs are refused from now
    on. :class:`Conflict` for the client's only key (revoke the client instead).
    Recorded as ClientKeyRemoved."""
    client = await _managed_client(session, principal, client_id, lock=True)
    keys = await _keys_of(session, client.id)
    key = next((held for held in keys if held.kid == kid), None)
    if key is None:
        raise NotFound(f"Client {client_id} has no key {kid}")
    if len(keys) == 1:
        raise Conflict("This is the client's only key: add its successor first, or revoke it")
    await session.delete(key)
    await session.flush()
    await _record(session, signer, EvidenceType.CLIENT_KEY_REMOVED, principal, client, kid=kid)
    return ClientView(client, [held for held in keys if held.kid != kid])


async def revoke_client(
    *, session: AsyncSession, signer: EvidenceSigner, principal: Principal | None, client_id: str
) -> ClientView:
    """Revoke the client: its access tokens and assertions are refused from now on (checked
    on every request). Revoking again changes nothing. Recorded as ClientRevoked."""
    client = await _managed_client(session, principal, client_id, lock=True)
    if not client.disabled:
        client.disabled = True
        client.revoked_at = now()
        session.add(client)
        await session.flush()
        await _record(session, signer, EvidenceType.CLIENT_REVOKED, principal, client)
    return ClientView(client, await _keys_of(session, client.id))


async def authenticate_client(
    *,
    session: AsyncSession,
    assertion: str,
    token_endpoint: str,
    client_id: str | None = None,
    jwks: JwksCache | None = None,
) -> ApiClient:
    """The client that signed ``assertion``; :class:`NotAuthenticated` for any flaw."""
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
        header = jwt.get_unverified_header(assertion)
    except jwt.InvalidTokenError:
        raise NotAuthenticated("The client assertion is not a JWT") from None
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or (client_id is not None and client_id != issuer):
        raise NotAuthenticated("The client assertion's iss must be the client_id")
    client = await session.get(ApiClient, issuer)
    if client is None or client.disabled:
        raise NotAuthenticated("Unknown or revoked client")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise NotAuthenticated("The client assertion's kid must be a string")
    candidates = await _candidate_keys(session, client, kid, jwks)
    claims = _verified_claims(assertion, candidates, client.id, token_endpoint)
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


async def _candidate_keys(
    session: AsyncSession, client: ApiClient, kid: str | None, jwks: JwksCache | None
) -> list[dict[str, Any]]:
    """The public JWKs the assertion may be signed with: the one named ``kid``, or without a
    ``kid`` each the client holds (registered, or published at its JWKS URL)."""
    if client.jwks_url is not None:
        if jwks is None:
            raise NotAuthenticated("This client's keys are at its JWKS URL, which is not read here")
        keys = await jwks.keys(client.jwks_url, kid=kid)
    else:
        keys = [key.public_jwk for key in await _keys_of(session, client.id)]
    if kid is not None:
        keys = [key for key in keys if key.get("kid") == kid]
        if not keys:
            raise NotAuthenticated(f"The client has no key {kid} (removed, or never registered)")
    return keys


def _verified_claims(
    assertion: str, keys: list[dict[str, Any]], client_id: str, token_endpoint: str
) -> dict[str, Any]:
    failure = "the client has no key"
    for jwk in keys:
        try:
            key = jwt.PyJWK(jwk).key
            return jwt.decode(
                assertion,
                key,
                algorithms=ALGORITHMS,
                audience=token_endpoint,
                issuer=client_id,
                options={"require": ["iss", "sub", "aud", "exp", "jti"], "verify_exp": False},
            )
        except (jwt.InvalidTokenError, jwt.PyJWKError) as exc:
            failure = str(exc)
    raise NotAuthenticated(f"The client assertion is invalid: {failure}")


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


async def load_client_principal(
    session: AsyncSession, client_id: str, *, token_scopes: frozenset[str] | None = None
) -> Principal:
    """The principal of machine client ``client_id``: its one role on one office or account,
    and the scopes of its token (``token_scopes``; None: all it was registered with) that it
    still holds. A revoked client is refused."""
    client = await session.get(ApiClient, client_id)
    if client is None or client.disabled:
        raise NotAuthenticated("The client of this token was revoked or no longer exists")
    registered = frozenset(client.scopes)
    if client.created_by is not None:
        # Never more than its owner may do, now: a person who lost a role there (or left)
        # takes the scopes that role allowed away from the clients they registered.
        registered &= await _owner_scopes(session, client)
    scopes = registered if token_scopes is None else registered & token_scopes
    roles = frozenset({client.role})
    return Principal(
        user_id=client.id,
        email="",
        display_name=client.name,
        account_roles={client.account_id: roles} if client.account_id else {},
        office_roles={client.office_id: roles} if client.office_id else {},
        kind="client",
        scopes=scopes,
    )


async def _owner_scopes(session: AsyncSession, client: ApiClient) -> frozenset[str]:
    """The scopes the roles its registering person holds today, where the client acts, allow
    (none if that person is disabled or gone)."""
    owner = await session.get(User, client.created_by)
    if owner is None or owner.disabled:
        return frozenset()
    where = (
        Grant.account_id == client.account_id
        if client.account_id is not None
        else Grant.office_id == client.office_id
    )
    held = (await session.exec(select(Grant.role).where(Grant.user_id == owner.id, where))).all()
    allowed = scopes_allowed(held, on_office=client.account_id is None)
    return frozenset(scope.value for scope in allowed)
