"""What authentication remembers to refuse repeats: the client assertions already used (a
``jti`` is good for one token), recent failed log-ins (to throttle password guessing), the
access tokens ended by a log-out, the verification emails sent lately (to throttle
resends), and the wrong retrieval codes entered lately (to throttle guessing).

All live in the database so that every process of one install sees the same state.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from mailbox.clock import now
from mailbox.db import UTCDateTime


class ClientAssertionUse(SQLModel, table=True):
    """A client assertion's ``jti`` that has got a token: kept until the assertion's ``exp``,
    after which the assertion is refused as expired anyway."""

    __tablename__ = "client_assertion_use"

    # The primary key makes (client_id, jti) unique: a second use fails to insert.
    client_id: str = Field(foreign_key="api_client.id", primary_key=True)
    jti: str = Field(max_length=255, primary_key=True)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)


class LoginFailure(SQLModel, table=True):
    """One failed password log-in, counted against ``key``: an account (the email tried) or a
    client address, each hashed (see :mod:`mailbox.identity.throttle`)."""

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_key_at", "key", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=80)
    at: datetime = Field(default_factory=now, sa_type=UTCDateTime, index=True)


class RevokedToken(SQLModel, table=True):
    """An access token ended before its expiry (its web session was logged out): refused
    until ``expires_at``, after which it is refused as expired anyway and the row can go."""

    __tablename__ = "revoked_token"

    jti: str = Field(max_length=64, primary_key=True)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)


class VerificationEmailSent(SQLModel, table=True):
    """One address-verification email queued, counted against ``key``: the address it went to
    or the account that asked, each hashed (see :mod:`mailbox.notifications.verify_limits`)."""

    __tablename__ = "verification_email_sent"
    __table_args__ = (Index("ix_verification_email_sent_key_at", "key", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=80)
    at: datetime = Field(default_factory=now, sa_type=UTCDateTime, index=True)


class RetrievalFailure(SQLModel, table=True):
    """One wrong retrieval code entered, counted against ``key``: the person who entered it
    or their client address, each hashed (see :mod:`mailbox.paper.retrieval`)."""

    __tablename__ = "retrieval_failure"
    __table_args__ = (Index("ix_retrieval_failure_key_at", "key", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=80)
    at: datetime = Field(default_factory=now, sa_type=UTCDateTime, index=True)
