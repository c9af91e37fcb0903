"""Which rule of the legal clock an office's deliveries follow: per office and document kind
(or every kind, ``ANY_KIND``), the id of a shipped rule (:mod:`mailbox.deliveries.legal_clock`).
Without a row, the default rule ``pickup-or-n-days-v1`` with the office's deemed-delivery days."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from mailbox.clock import now
from mailbox.db import UTCDateTime
from mailbox.ids import new_id


class ClockRuleChoice(SQLModel, table=True):
    __tablename__ = "clock_rule_choice"
    __table_args__ = (UniqueConstraint("office_id", "kind_code"),)

    id: str = Field(default_factory=partial(new_id, "clk"), primary_key=True)
    office_id: str = Field(foreign_key="office.id", index=True)
    kind_code: str = Field(max_length=32)  # a document kind code, or ANY_KIND
    rule_id: str = Field(max_length=64)
    updated_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)
