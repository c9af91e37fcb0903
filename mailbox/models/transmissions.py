"""Office-to-office transmissions (a package of documents from one office to another,
possibly through a hub office), the hubs' forwarding rules, and the lists of what a hub
expects to receive (the coverage report)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from functools import partial

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from mailbox.clock import now
from mailbox.db import UTCDateTime
from mailbox.ids import new_id


class HopStatus(StrEnum):
    """Where one hop of a transmission stands."""

    DELIVERED = "delivered"  # in the next office's mailbox
    HELD = "held"  # received by a hub that checks before forwarding
    FORWARDED = "forwarded"  # received by a hub and sent on (the next hop exists)
    PICKED_UP = "picked_up"  # the final recipient took it (read from its delivery, not stored)


class ForwardMode(StrEnum):
    """What a hub does with a transmission it receives: send it on at once, or hold it until
    one of its people (or its system) forwards it after its own checks."""

    AUTOMATIC = "automatic"
    CHECK = "check"


class Transmission(SQLModel, table=True):
    __table_args__ = (
        Index("ix_transmission_sender", "sender_office_id", "created_at", "id"),
        Index("ix_transmission_final", "final_office_id", "created_at", "id"),
        Index("ix_transmission_hub", "hub_office_id", "created_at", "id"),
    )

    id: str = Field(default_factory=partial(new_id, "trn"), primary_key=True)
    sender_office_id: str = Field(foreign_key="office.id")
    final_office_id: str = Field(foreign_key="office.id")
    hub_office_id: str | None = Field(default=None, foreign_key="office.id")
    international_application_number: str = Field(max_length=17)
    kind: str = Field(max_length=32)
    sender_reference: str | None = Field(default=None, max_length=64)
    # The manifest as the sender sent it (checked against its JSON Schema).
    manifest: dict = Field(sa_column=Column(JSON, nullable=False))
    # The package document: the service's sealed record of the manifest, the documents'
    # sealed forms and the route; the document every hop delivers.
    package_document_id: str = Field(foreign_key="document.id")
    # The office codes the package travels through, sender first, final recipient last.
    route: list[str] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)
    # When the final recipient took the package is not stored here: it is the last hop's
    # delivery's pickup (mailbox.transmissions.status reads it there).


class TransmissionDocument(SQLModel, table=True):
    __tablename__ = "transmission_document"
    __table_args__ = (UniqueConstraint("transmission_id", "position"),)

    id: str = Field(default_factory=partial(new_id, "trd"), primary_key=True)
    transmission_id: str = Field(foreign_key="transmission.id", index=True)
    position: int
    file: str = Field(max_length=100)
    role: str = Field(max_length=32)
    document_id: str = Field(foreign_key="document.id")


class TransmissionHop(SQLModel, table=True):
    __tablename__ = "transmission_hop"
    __table_args__ = (UniqueConstraint("transmission_id", "number"),)

    id: str = Field(default_factory=partial(new_id, "hop"), primary_key=True)
    transmission_id: str = Field(foreign_key="transmission.id", index=True)
    number: int  # 0 for the sender's dispatch, 1 for the hub's forward
    from_office_id: str = Field(foreign_key="office.id")
    to_office_id: str = Field(foreign_key="office.id")
    # The delivery of the package into the next office's mailbox.
    delivery_id: str = Field(foreign_key="delivery.id", unique=True)
    status: str = Field(default=HopStatus.DELIVERED, max_length=16)
    delivered_at: datetime = Field(sa_type=UTCDateTime)
    # A hub's receipt: the ReceiptAcknowledgement record the service signed for it.
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledgement_id: str | None = Field(default=None, max_length=40)
    forwarded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    forwarded_by: str | None = Field(default=None, max_length=64)


class ForwardingRule(SQLModel, table=True):
    """A hub's rule for one kind of transmission (no rule: forward automatically)."""

    __tablename__ = "forwarding_rule"
    __table_args__ = (UniqueConstraint("hub_office_id", "kind"),)

    id: str = Field(default_factory=partial(new_id, "fwr"), primary_key=True)
    hub_office_id: str = Field(foreign_key="office.id")
    kind: str = Field(max_length=32)
    mode: str = Field(default=ForwardMode.AUTOMATIC, max_length=16)
    changed_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)


class ExpectedItem(SQLModel, table=True):
    """One item a hub expects from a sending office by a date (a national-phase entry notice,
    a search copy), from a list the hub uploaded; matched against what reached its mailbox."""

    __tablename__ = "expected_item"
    __table_args__ = (
        UniqueConstraint(
            "hub_office_id", "sender_code", "kind", "international_application_number"
        ),
        Index("ix_expected_item_due", "hub_office_id", "due_on"),
    )

    id: str = Field(default_factory=partial(new_id, "exp"), primary_key=True)
    hub_office_id: str = Field(foreign_key="office.id")
    sender_code: str = Field(max_length=16)
    kind: str = Field(max_length=32)
    international_application_number: str = Field(max_length=17)
    due_on: date
    uploaded_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)
    # The last reminder sent to the sending office about this item.
    reminded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
