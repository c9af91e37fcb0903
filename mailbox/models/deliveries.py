"""Documents (the sealed PDF and its metadata) and deliveries (one document to one account,
owner of the legal timeline)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from functools import partial

from sqlalchemy import JSON, Column, Index, text
from sqlmodel import Field, SQLModel

from mailbox.clock import now
from mailbox.db import UTCDateTime
from mailbox.ids import new_id


class DeliveryStatus(StrEnum):
    SUBMITTED = "submitted"
    AVAILABLE = "available"
    PICKED_UP = "picked_up"
    DEEMED_DELIVERED = "deemed_delivered"
    PAPER_QUEUED = "paper_queued"
    PAPER_POSTED = "paper_posted"
    PAPER_RETURNED = "paper_returned"
    REJECTED = "rejected"


class Document(SQLModel, table=True):
    id: str = Field(default_factory=partial(new_id, "doc"), primary_key=True)
    office_id: str = Field(foreign_key="office.id", index=True)
    kind_code: str = Field(max_length=32)
    dossier_number: str = Field(max_length=64)
    title: str = Field(max_length=500)
    filename: str = Field(max_length=255)
    original_sha256: str = Field(max_length=64)
    # Also the blob id; indexed for the blob sweep, which asks which blobs are referenced.
    sealed_sha256: str = Field(max_length=64, index=True)
    original_size: int
    sealed_size: int
    # What the document is: a PDF (sealed with PAdES inside it), or a data document (JSON,
    # stored as its canonical bytes; XML, stored as sent) sealed with a detached CMS seal,
    # whose blob id (the seal's SHA-256) is ``seal_sha256``.
    media_type: str = Field(
        default="application/pdf",
        max_length=64,
        sa_column_kwargs={"server_default": "application/pdf"},
    )
    seal_sha256: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)
    # When the blob was crypto-shredded (its wrapped data key overwritten, then the file
    # removed) after every delivery of the document had its content purged.
    blob_shredded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Delivery(SQLModel, table=True):
    __table_args__ = (
        # The inbox: an account's deliveries, newest first, keyset-paginated; its unread ones
        # (a partial index, so a page of them never reads past the picked-up ones); one dossier
        # of the account, already in inbox order.
        Index("ix_delivery_inbox", "account_id", "available_at", "id"),
        Index(
            "ix_delivery_unread",
            "account_id",
            "available_at",
            "id",
            sqlite_where=text("picked_up_at IS NULL"),
            postgresql_where=text("picked_up_at IS NULL"),
        ),
        Index("ix_delivery_dossier", "account_id", "dossier_number", "available_at", "id"),
        # An office's dispatches, newest first (its workspace and GET /api/v1/dispatches), and
        # in that order: of one status, one dossier, one recipient; those not picked up yet,
        # those on paper (partial indexes: a page of them never reads past the others).
        Index("ix_delivery_office", "office_id", "submitted_at", "id"),
        Index("ix_delivery_office_status", "office_id", "status", "submitted_at", "id"),
        Index("ix_delivery_office_dossier", "office_id", "dossier_number", "submitted_at", "id"),
        Index("ix_delivery_office_account", "office_id", "account_id", "submitted_at", "id"),
        Index(
            "ix_delivery_office_unread",
            "office_id",
            "submitted_at",
            "id",
            sqlite_where=text("picked_up_at IS NULL"),
            postgresql_where=text("picked_up_at IS NULL"),
        ),
        Index(
            "ix_delivery_office_paper",
            "office_id",
            "submitted_at",
            "id",
            sqlite_where=text("paper_queued_at IS NOT NULL"),
            postgresql_where=text("paper_queued_at IS NOT NULL"),
        ),
        # Scans of the legal clock: deliveries waiting for pickup.
        Index("ix_delivery_status_due", "status", "deemed_due_at"),
    )

    id: str = Field(default_factory=partial(new_id, "dlv"), primary_key=True)
    document_id: str = Field(foreign_key="document.id", index=True)
    account_id: str = Field(foreign_key="account.id")
    office_id: str = Field(foreign_key="office.id")
    dossier_number: str = Field(max_length=64)
    status: str = Field(default=DeliveryStatus.SUBMITTED, max_length=24)
    submitted_at: datetime = Field(sa_type=UTCDateTime)
    available_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deemed_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    picked_up_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    picked_up_by: str | None = Field(default=None, max_length=64)
    deemed_delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    paper_queued_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    paper_posted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    paper_returned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Why the delivery went on paper: the sentence every surface shows, and its code
    # (mailbox.deliveries.paper_rule.PaperReason; None before codes were recorded).
    paper_reason: str | None = Field(default=None, max_length=500)
    paper_reason_code: str | None = Field(default=None, max_length=32)
    reminders_sent: int = Field(default=0)
    # The rule of the legal clock the delivery was consigned under (its id names its version)
    # and its number of days; None for deliveries consigned before rules were recorded.
    clock_rule: str | None = Field(default=None, max_length=64)
    clock_days: int | None = Field(default=None)
    clock_zone: str | None = Field(default=None, max_length=64)  # the office's, at consignment
    # The office's calendar at consignment (mailbox.deliveries.calendars.Calendar.as_json: a
    # year of closed days) and the certified outages that touched the delivery's period.
    clock_calendar: dict | None = Field(default=None, sa_column=Column(JSON))
    clock_outages: list[dict] | None = Field(default=None, sa_column=Column(JSON))
    # The date the document bears, as its office stated it at dispatch (None: not stated); the
    # legal clock reads it under rules that count from it (``epo-2023-v1``).
    document_date: date | None = Field(default=None)
    # Retention: the content was removed (ContentPurged evidence); the evidence and the
    # document's hashes stay.
    content_purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    content_purge_reason: str | None = Field(default=None, max_length=500)
