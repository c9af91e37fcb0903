"""Machine clients, managed by people: an account's owners and an office's dispatchers
register their systems' clients (a role, scopes, and a public key or a JWKS URL), list them,
roll a key over (a second key, then remove the old one) and revoke them. Each change is
recorded as evidence."""

from __future__ import annotations

from litestar import Response, delete, get, post
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.api.problems import problem_responses
from mailbox.api.schemas.clients import ClientCreate, ClientKeyCreate, ClientPublic, ClientsPublic
from mailbox.errors import FieldError, InvalidRequest
from mailbox.identity.clients import add_key, get_client, list_clients, remove_key, revoke_client
from mailbox.identity.principal import Principal
from mailbox.models import Role
from mailbox.operations.clients import change_client, register
from mailbox.services import Services

__all__ = ["routes"]

TAGS = ["clients"]
ONE = "/api/v1/clients/{client_id:str}"
_PEOPLE = "Machine clients do not manage clients."


@post(
    "/api/v1/clients",
    tags=TAGS,
    summary="Register a machine client of an account or an office",
    status_code=201,
    responses=problem_responses(
        401,
        404,
        415,
        details={
            403: "You do not manage the account (its owners do) or the office (its "
            "dispatchers do), or the role or a scope asked for is beyond what your own roles "
            f"there allow (`errors` names each). {_PEOPLE}",
            422: "Not exactly one of account_id and office_id, or of public_key and "
            "jwks_url; an unknown role or scope; a key that is not a PEM EC or RSA (>= 2048 "
            "bits) public key; a JWKS URL that is not https:// to a public host, cannot be "
            "fetched, or serves no usable key.",
        },
    ),
)
async def create_client(
    data: ClientCreate, principal: Principal, services: Services
) -> Response[ClientPublic]:
    """The client then gets tokens with `grant_type=client_credentials` and an assertion signed
    by its key (`POST /api/v1/auth/token`); its tokens carry its `scopes` and every route
    checks them. A client never has more than you: its role and each scope must be allowed by
    your own roles on the account or office. Recorded as ClientRegistered evidence."""
    account_id, office_id = data.owner()
    try:
        role = Role(data.role)
    except ValueError:
        raise InvalidRequest(
            f"Unknown role {data.role!r}", errors=[FieldError("role", "unknown role")]
        ) from None
    view = await register(
        services,
        principal,
        name=data.name,
        role=role,
        scopes=list(data.scopes),
        account_id=account_id,
        office_id=office_id,
        public_key_pem=data.public_key if isinstance(data.public_key, str) else None,
        jwks_url=data.jwks_url if isinstance(data.jwks_url, str) else None,
    )
    return Response(
        ClientPublic.of(view),
        status_code=201,
        headers={"Location": f"/api/v1/clients/{view.client.id}"},
    )


@get(
    "/api/v1/clients",
    tags=TAGS,
    summary="The machine clients of the accounts and offices you manage",
    responses=problem_responses(401, details={403: _PEOPLE}),
)
async def clients(principal: Principal, session: AsyncSession) -> ClientsPublic:
    """Oldest first, revoked ones included (with `revoked_at`), each with the `kid` of its
    keys."""
    views = await list_clients(session=session, principal=principal)
    return ClientsPublic([ClientPublic.of(view) for view in views], None)


@get(ONE, tags=TAGS, summary="One machine client", responses=problem_responses(401, 404))
async def one_client(client_id: str, principal: Principal, session: AsyncSession) -> ClientPublic:
    """A client of an account or office you manage (else 404), revoked ones included."""
    return ClientPublic.of(
        await get_client(session=session, principal=principal, client_id=client_id)
    )


@post(
    f"{ONE}/keys",
    tags=TAGS,
    summary="Add a second key to a client, for a key rollover",
    status_code=201,
    responses=problem_responses(
        401,
        404,
        415,
        details={
            403: _PEOPLE,
            409: "The client holds two keys already (remove the old one first), holds this "
            "key already, publishes its keys at a JWKS URL, or was revoked.",
            422: "Not a PEM EC or RSA (>= 2048 bits) public key.",
        },
    ),
)
async def create_client_key(
    client_id: str, data: ClientKeyCreate, principal: Principal, services: Services
) -> ClientPublic:
    """Both keys work until the old one is removed: switch the client's system to the new key
    (its assertions name it in the `kid` header), then delete the old key. Recorded as
    ClientKeyAdded evidence."""
    view = await change_client(
        services, principal, add_key, client_id=client_id, public_key_pem=data.public_key
    )
    return ClientPublic.of(view)


@delete(
    f"{ONE}/keys/{{kid:str}}",
    tags=TAGS,
    summary="Remove a client's key: assertions it signs are refused from now on",
    status_code=200,
    responses=problem_responses(
        401, 404, details={403: _PEOPLE, 409: "The client's only key: add its successor first."}
    ),
)
async def delete_client_key(
    client_id: str, kid: str, principal: Principal, services: Services
) -> ClientPublic:
    """Tokens issued before stay valid until they expire (at most the token lifetime).
    Recorded as ClientKeyRemoved evidence."""
    view = await change_client(services, principal, remove_key, client_id=client_id, kid=kid)
    return ClientPublic.of(view)


@delete(
    ONE,
    tags=TAGS,
    summary="Revoke a machine client: its tokens are refused from now on",
    status_code=200,
    responses=problem_responses(401, 404, details={403: _PEOPLE}),
)
async def delete_client(client_id: str, principal: Principal, services: Services) -> ClientPublic:
    """Its access tokens, even unexpired ones, and its assertions are refused at once; it
    stays listed with `revoked_at`. Revoking again changes nothing. Recorded as ClientRevoked
    evidence."""
    view = await change_client(services, principal, revoke_client, client_id=client_id)
    return ClientPublic.of(view)


routes = [create_client, clients, one_client, create_client_key, delete_client_key, delete_client]
