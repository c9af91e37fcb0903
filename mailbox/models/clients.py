"""Machine clients: an office's or applicant's own system, authenticating with a signed client
assertion (private_key_jwt, RFC 7523) against a public key registered here (two at once during
a key rollover) or published by the client at its JWKS URL."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from mailbox.clock import now
from mailbox.db import UTCDateTime
from mailbox.ids import new_id


class ApiClient(SQLModel, table=True):
    __tablename__ = "api_client"

    id: str = Field(default_factory=partial(new_id, "cli"), primary_key=True)  # the client_id
    name: str = Field(max_length=200)
    role: str = Field(max_length=16)
    account_id: str | None = Field(default=None, foreign_key="account.id", index=True)
    office_id: str | None = Field(default=None, foreign_key="office.id", index=True)
    # The scopes it was registered with (mailbox.identity.policy.Scope values).
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Where the client publishes its public keys (a JWK Set), instead of registered keys.
    jwks_url: str | None = Field(default=None, max_length=2000)
    # The person who registered it (None: the command line).
    created_by: str | None = Field(default=None, foreign_key="user.id")
    disabled: bool = Field(default=False)  # revoked: its tokens and assertions are refused
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiClientKey(SQLModel, table=True):
    """A public key a client signs its assertions with; ``kid`` is its RFC 7638 thumbprint."""

    __tablename__ = "api_client_key"
    __table_args__ = (UniqueConstraint("client_id", "kid"),)

    id: str = Field(default_factory=partial(new_id, "key"), primary_key=True)
    client_id: str = Field(foreign_key="api_client.id", index=True)
    kid: str = Field(max_length=100)
    public_jwk: dict = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)
