"""How long an office's content is kept: per office and document kind, the days a document's
content is kept after its delivery became final (pickup, deemed delivery, paper posted or
returned), and the days its evidence is kept. Unset values fall back to the office-wide row,
then to the service's settings (:mod:`mailbox.deliveries.retention`)."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from mailbox.clock import now
from mailbox.db import UTCDateTime
from mailbox.ids import new_id

ANY_KIND = "*"  # the office-wide row: every document kind without a row of its own


class RetentionPolicy(SQLModel, table=True):
    __tablename__ = "retention_policy"
    __table_args__ = (UniqueConstraint("office_id", "kind_code"),)

    id: str = Field(default_factory=partial(new_id, "ret"), primary_key=True)
    office_id: str = Field(foreign_key="office.id", index=True)
    kind_code: str = Field(max_length=32)  # a document kind code, or ANY_KIND
    document_days: int | None = Field(default=None)  # None: the office-wide row's, or the default
    evidence_days: int | None = Field(default=None)
    updated_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)
