"""The second factor of a person's log-in: a TOTP secret (RFC 6238) and one-time recovery
codes (see :mod:`mailbox.identity.second_factor`)."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from sqlmodel import Field, SQLModel

from mailbox.clock import now
from mailbox.db import UTCDateTime
from mailbox.ids import new_id


class UserTotp(SQLModel, table=True):
    """A user's TOTP authenticator: pending until confirmed by a first code, then in force.

    ``id`` is new for each enrolment: remembered devices are bound to it, so resetting the
    second factor forgets every remembered device. ``last_used_step`` is the time step of the
    newest code accepted: a code is good once, and an older one never again."""

    __tablename__ = "user_totp"

    user_id: str = Field(foreign_key="user.id", primary_key=True)
    id: str = Field(default_factory=partial(new_id, "tfa"), unique=True, max_length=40)
    secret: str = Field(max_length=64)
    confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_step: int | None = Field(default=None)
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)


class RecoveryCode(SQLModel, table=True):
    """One of a user's one-time recovery codes, stored as its SHA-256 (the codes are random,
    80 bits each, shown once)."""

    __tablename__ = "recovery_code"

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(foreign_key="user.id", index=True)
    code_hash: str = Field(max_length=64)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
