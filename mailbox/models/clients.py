"""Machine clients: an office's or applicant's own system, authenticating with a signed client
assertion (private_key_jwt, RFC 7523) against the public key registered here."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from sqlalchemy import JSON, Column
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
    public_jwk: dict = Field(sa_column=Column(JSON, nullable=False))
    disabled: bool = Field(default=False)
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
