"""The evidence log: append-only, hash-linked, signed records of legally meaningful events,
the one-row head that serialises appends and guards against truncation, and the signed
checkpoints (Merkle roots of the log's first records) that let an auditor prove a record was
in the log at a time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, LargeBinary
from sqlmodel import Field, SQLModel

from mailbox.db import UTCDateTime


class EvidenceRecord(SQLModel, table=True):
    __tablename__ = "evidence"

    seq: int = Field(primary_key=True)  # position in the log, 1, 2, 3, ... without gaps
    id: str = Field(unique=True, max_length=40)
    delivery_id: str | None = Field(default=None, foreign_key="delivery.id", index=True)
    type: str = Field(max_length=40)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=200)
    actor_ip: str | None = Field(default=None, max_length=64)
    details: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    original_sha256: str | None = Field(default=None, max_length=64)
    sealed_sha256: str | None = Field(default=None, max_length=64)
    prev_hash: str = Field(max_length=64)
    record_hash: str = Field(max_length=64)
    signature: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    timestamp_token: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class EvidenceHead(SQLModel, table=True):
    """The newest record's position and hash: one row, locked by every append."""

    __tablename__ = "evidence_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = Field(default=0)
    record_hash: str = Field(default="0" * 64, max_length=64)


class EvidenceCheckpoint(SQLModel, table=True):
    """The Merkle root (RFC 6962) of the log's first ``seq`` records, signed by the evidence key
    and timestamped (RFC 3161) over the SHA-256 of its canonical JSON (see
    :func:`mailbox.evidence.checkpoints.checkpoint_json`)."""

    __tablename__ = "evidence_checkpoint"

    # The log size covered: records 1 .. seq. Given, never generated.
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    root_hash: str = Field(max_length=64)  # hex
    created_at: datetime = Field(sa_type=UTCDateTime)
    signature: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    timestamp_token: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
