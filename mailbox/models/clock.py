"""Which rule of the legal clock an office's deliveries follow: per office and document kind
(or every kind, ``ANY_KIND``), the id of a shipped rule (:mod:`mailbox.deliveries.legal_clock`).
Without a row, the default rule ``pickup-or-n-days-v1`` with the office's deemed-delivery days.
And the certified outages of the service or of one office (:class:`Outage`)."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from sqlalchemy import Column, LargeBinary, UniqueConstraint
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


class Outage(SQLModel, table=True):
    """A certified outage: from ``starts_at`` to ``ends_at`` the service (``office_id`` None)
    or one office's part of it did not work as it should. ``certificate`` is the signed,
    timestamped JSON certificate (see :mod:`mailbox.deliveries.outages`), ``certificate_pdf``
    the same facts as a sealed PDF; ``certificate_sha256`` is what deliveries' evidence cites."""

    __tablename__ = "outage"

    id: str = Field(default_factory=partial(new_id, "out"), primary_key=True)
    office_id: str | None = Field(default=None, foreign_key="office.id", index=True)
    starts_at: datetime = Field(sa_type=UTCDateTime, index=True)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    affected: str = Field(max_length=500)
    recorded_by: str = Field(max_length=200)
    recorded_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)
    certificate_sha256: str = Field(max_length=64)
    certificate: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    certificate_pdf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    deliveries_touched: int = Field(default=0)
