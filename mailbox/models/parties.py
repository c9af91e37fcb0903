"""Who takes part: offices, accounts (the legal addressees), users, grants and the email
addresses that receive alerts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from functools import partial
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from mailbox.clock import now
from mailbox.db import UTCDateTime
from mailbox.ids import new_id


class Role(StrEnum):
    OWNER = "owner"
    EDITOR = "editor"
    VIEWER = "viewer"
    DISPATCHER = "dispatcher"
    AUDITOR = "auditor"
    # The office's printing contractor: downloads the print batches (which hold the letters'
    # content) and marks letters posted or returned; reads nothing else of the office.
    PRINTER = "printer"


ACCOUNT_ROLES = frozenset({Role.OWNER, Role.EDITOR, Role.VIEWER})
OFFICE_ROLES = frozenset({Role.DISPATCHER, Role.AUDITOR, Role.PRINTER})


class Office(SQLModel, table=True):
    id: str = Field(default_factory=partial(new_id, "off"), primary_key=True)
    code: str = Field(unique=True, max_length=16)
    name: str = Field(max_length=200)
    deemed_delivery_days: int | None = Field(default=None, ge=0)
    # Document kind codes that this office never serves electronically (paper by law).
    paper_only_kinds: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    # PDFs with active content (JavaScript, launch actions, embedded files, ...): "reject"
    # them, or "allow" them and record what they carry in the dispatch's evidence.
    active_content: str = Field(
        default="reject", max_length=8, sa_column_kwargs={"server_default": "reject"}
    )
    # The office's time zone (IANA name): a legal date is a day there, ending at midnight there.
    time_zone: str = Field(default="UTC", max_length=64, sa_column_kwargs={"server_default": "UTC"})
    # The office's calendar of closed days: public holidays of a country (ISO 3166-1 alpha-2)
    # and subdivision (as the holidays library names them), and its own extra closed days
    # (ISO dates). No country: no calendar, nothing moves off closed days.
    calendar_country: str | None = Field(default=None, max_length=2)
    calendar_subdivision: str | None = Field(default=None, max_length=16)
    closed_days: list[str] | None = Field(default=None, sa_column=Column(JSON))
    # The return address printed on its paper letters (above the recipient's, in the window).
    postal_address: str = Field(
        default="", max_length=1000, sa_column_kwargs={"server_default": ""}
    )
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)


class Account(SQLModel, table=True):
    # An office has at most one mailbox.
    __table_args__ = (Index("ix_account_office_id", "office_id", unique=True),)

    id: str = Field(default_factory=partial(new_id, "acc"), primary_key=True)
    name: str = Field(max_length=200)
    postal_address: str = Field(max_length=1000)
    language: str = Field(default="en", max_length=8)
    # Consent to electronic delivery; with a verified address it makes delivery electronic.
    edelivery_consent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    edelivery_active: bool = Field(default=False)
    # A permanent notification failure suspends electronic delivery until fixed.
    edelivery_suspended_reason: str | None = Field(default=None, max_length=500)
    notify_mode: str = Field(default="immediate", max_length=16)  # immediate | digest
    reminder_days: list[int] | None = Field(default=None, sa_column=Column(JSON))
    last_digest_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Set when the account is an office's own mailbox (office-to-office deliveries): the
    # office it receives for. Its people (receiving clerks) and machine clients hold account
    # grants on it like anyone else's.
    office_id: str | None = Field(default=None, foreign_key="office.id")
    # A postal-only addressee: made by an office's dispatch to a postal address (a recipient
    # with no account). It has no users and no consent, so everything for it goes on paper.
    # The office it was made for; the SHA-256 of that office and the normalised address, so
    # that the same address from the same office finds the same addressee again; the address
    # as the office gave it (name, lines, postal_code, city, country).
    postal_only_office_id: str | None = Field(default=None, foreign_key="office.id")
    postal_key: str | None = Field(default=None, max_length=64, unique=True)
    postal_address_fields: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)


class User(SQLModel, table=True):
    id: str = Field(default_factory=partial(new_id, "usr"), primary_key=True)
    email: str = Field(unique=True, max_length=320)
    display_name: str = Field(max_length=200)
    password_hash: str = Field(max_length=200)
    is_admin: bool = Field(default=False)
    disabled: bool = Field(default=False)
    # Raised by a password change: access tokens carry the epoch they were issued in, and
    # those of an earlier one are refused (every session and bearer token ends).
    credentials_epoch: int = Field(default=0)
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)


class Grant(SQLModel, table=True):
    """A role of a user on an account (owner/editor/viewer) or an office (dispatcher/auditor)."""

    __table_args__ = (UniqueConstraint("user_id", "role", "account_id", "office_id"),)

    id: str = Field(default_factory=partial(new_id, "grt"), primary_key=True)
    user_id: str = Field(foreign_key="user.id", index=True)
    role: str = Field(max_length=16)
    account_id: str | None = Field(default=None, foreign_key="account.id", index=True)
    office_id: str | None = Field(default=None, foreign_key="office.id", index=True)
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)


class NotificationAddress(SQLModel, table=True):
    """An email address that receives an account's alerts once verified by a link."""

    __tablename__ = "notification_address"
    __table_args__ = (UniqueConstraint("account_id", "email"),)

    id: str = Field(default_factory=partial(new_id, "adr"), primary_key=True)
    account_id: str = Field(foreign_key="account.id", index=True)
    email: str = Field(max_length=320)
    verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    verify_token_hash: str | None = Field(default=None, max_length=64, index=True)
    verify_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)
