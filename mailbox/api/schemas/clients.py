"""Machine clients as the API shows them: registering one, adding a key, and the client with
its keys (never a private key: the service never holds one)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from litestar.openapi.spec import OpenAPIType, Schema
from msgspec import UNSET, Meta, Struct, UnsetType

from mailbox.api.schemas.rules import Rules
from mailbox.identity.client_jwks import MAX_URL_LENGTH
from mailbox.identity.clients import ClientView
from mailbox.identity.policy import Scope
from mailbox.timefmt import rfc3339, rfc3339_or_none

__all__ = ["ClientCreate", "ClientKeyCreate", "ClientKeyPublic", "ClientPublic", "ClientsPublic"]

_PEM_EXAMPLE = (
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE...\n"
    "-----END PUBLIC KEY-----\n"
)
_ACCOUNT_ROLES = ["owner", "editor", "viewer"]
_OFFICE_ROLES = ["dispatcher", "auditor"]
_ROLES = _ACCOUNT_ROLES + _OFFICE_ROLES


class ClientCreate(Struct, kw_only=True, forbid_unknown_fields=True):
    """Exactly one of ``account_id`` and ``office_id``; exactly one of ``public_key`` and
    ``jwks_url``."""

    name: Annotated[str, Meta(examples=["Patent management system"])]
    role: Annotated[str, Meta(examples=["viewer"])]
    scopes: Annotated[list[str], Meta(examples=[["inbox:read", "documents:read"]])]
    account_id: str | UnsetType = UNSET
    office_id: str | UnsetType = UNSET
    public_key: Annotated[str | UnsetType, Meta(examples=[_PEM_EXAMPLE])] = UNSET
    jwks_url: Annotated[
        str | UnsetType, Meta(examples=["https://patents.example.com/.well-known/jwks.json"])
    ] = UNSET

    __rules__: ClassVar[Rules] = Rules(
        closed=True,
        fields={
            "name": {"max_length": 200},
            "role": {
                "enum": _ROLES,
                "description": "The client's role on the account (owner, editor, viewer) or "
                "office (dispatcher, auditor): never one allowing more than your own.",
            },
            "scopes": {
                "items": Schema(type=OpenAPIType.STRING, enum=[s.value for s in Scope]),
                "min_items": 1,
                "description": "What the client may call; each must be allowed by its role and "
                "by your own roles there (403 otherwise).",
            },
            "public_key": {
                "max_length": 10000,
                "description": "PEM public key (EC, or RSA >= 2048 bits).",
            },
            "jwks_url": {
                "max_length": MAX_URL_LENGTH,
                "description": "https:// URL of the client's JWK Set, on a public host.",
            },
        },
        one_of=tuple(
            Schema(
                required=[owner, key],
                properties={"role": Schema(type=OpenAPIType.STRING, enum=roles)},
            )
            for owner, roles in (("account_id", _ACCOUNT_ROLES), ("office_id", _OFFICE_ROLES))
            for key in ("public_key", "jwks_url")
        ),
    )

    def owner(self) -> tuple[str | None, str | None]:
        """The account id and the office id given (``None`` for the one left out)."""
        return _given(self.account_id), _given(self.office_id)


def _given(value: str | UnsetType) -> str | None:
    return None if isinstance(value, UnsetType) else value


class ClientKeyCreate(Struct, kw_only=True, forbid_unknown_fields=True):
    public_key: Annotated[str, Meta(examples=[_PEM_EXAMPLE])]

    __rules__: ClassVar[Rules] = Rules(
        closed=True,
        fields={"public_key": {"max_length": 10000, "description": "PEM public key."}},
    )


class ClientKeyPublic(Struct, kw_only=True):
    kid: Annotated[
        str, Meta(description="RFC 7638 thumbprint; put it in the assertion's `kid` header.")
    ]
    created_at: str


class ClientPublic(Struct, kw_only=True):
    id: Annotated[str, Meta(description="The client_id (`iss` and `sub` of its assertions).")]
    name: str
    role: str
    account_id: str | None
    office_id: str | None
    scopes: list[str]
    jwks_url: str | None
    keys: list[ClientKeyPublic]
    created_at: str
    last_used_at: str | None
    revoked_at: str | None

    @classmethod
    def of(cls, view: ClientView) -> ClientPublic:
        client = view.client
        return ClientPublic(
            id=client.id,
            name=client.name,
            role=client.role,
            account_id=client.account_id,
            office_id=client.office_id,
            scopes=list(client.scopes),
            jwks_url=client.jwks_url,
            keys=[ClientKeyPublic(kid=k.kid, created_at=rfc3339(k.created_at)) for k in view.keys],
            created_at=rfc3339(client.created_at),
            last_used_at=rfc3339_or_none(client.last_used_at),
            revoked_at=rfc3339_or_none(client.revoked_at),
        )


class ClientsPublic(Struct):
    items: list[ClientPublic]
    next_cursor: Annotated[
        str | None, Meta(description="Always null: an account or office has few clients.")
    ]
