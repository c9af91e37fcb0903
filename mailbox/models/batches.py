"""Bulk dispatch: a batch of documents an office sent in one upload (its manifest and its
PDFs), and one row per manifest line with what became of it."""

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


class BatchStatus(StrEnum):
    QUEUED = "queued"  # stored and checked; no item dispatched yet
    RUNNING = "running"  # items are being dispatched
    DONE = "done"  # every item accepted or refused; the uploaded files are removed


class BatchItemStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"  # delivered (or queued for paper): ``delivery_id`` names it
    REFUSED = "refused"  # ``problem`` says why, as the single dispatch would have answered


class DispatchBatch(SQLModel, table=True):
    __tablename__ = "dispatch_batch"
    __table_args__ = (Index("ix_dispatch_batch_office", "office_id", "created_at", "id"),)

    id: str = Field(default_factory=partial(new_id, "bat"), primary_key=True)
    office_id: str = Field(foreign_key="office.id")
    created_by: str = Field(max_length=64)  # the actor: user:... or client:...
    status: str = Field(default=BatchStatus.QUEUED, max_length=16)
    manifest_format: str = Field(max_length=8)  # csv | jsonl
    source: str = Field(max_length=8)  # zip | parts: how the PDFs came
    total: int = Field(default=0)
    accepted: int = Field(default=0)
    refused: int = Field(default=0)
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def pending(self) -> int:
        return self.total - self.accepted - self.refused


class DispatchBatchItem(SQLModel, table=True):
    __tablename__ = "dispatch_batch_item"
    __table_args__ = (
        # The items of a batch in manifest order (keyset pages), and its pending ones.
        UniqueConstraint("batch_id", "line"),
        Index("ix_dispatch_batch_item_pending", "batch_id", "status", "line"),
    )

    id: str = Field(default_factory=partial(new_id, "bti"), primary_key=True)
    batch_id: str = Field(foreign_key="dispatch_batch.id")
    line: int  # the manifest line it came from (1 is a CSV's header)
    office_reference: str = Field(max_length=200)
    recipient_account_id: str = Field(max_length=64)
    kind_code: str = Field(max_length=32)
    dossier_number: str = Field(max_length=64)
    title: str = Field(max_length=500)
    filename: str = Field(max_length=255)
    status: str = Field(default=BatchItemStatus.PENDING, max_length=16)
    delivery_id: str | None = Field(default=None, max_length=40)
    # Accepted as the earlier dispatch of the same office reference (nothing new was served).
    replayed: bool = Field(default=False)
    problem: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    attempts: int = Field(default=0)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
