"""Work that must happen after a commit (outbox) with its kinds and channels, idempotency of
creating requests, and webhook subscriptions with their delivery attempts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from functools import partial

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from mailbox.clock import now
from mailbox.db import UTCDateTime
from mailbox.ids import new_id


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"


class Channel(StrEnum):
    """A way out of the outbox; each has one handler in the drain's table of channels."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    PAPER = "paper"
    # Office-to-office transmissions: a hub's system receives a package and sends it on.
    TRANSMISSION = "transmission"


class OutboxKind(StrEnum):
    """What an outbox message is. The values are stored in ``outbox.kind``: never change one.

    A value is ``<channel>.<what>``, so every kind names the channel that carries it.
    """

    EMAIL_NEW_DELIVERY = "email.new_delivery"  # an alert: a document was made available
    EMAIL_REMINDER = "email.reminder"  # an alert: a document still waits for pickup
    EMAIL_DEEMED_DELIVERY = "email.deemed_delivery"  # an alert: a document counts as delivered
    EMAIL_DIGEST = "email.digest"  # the daily list of new documents, instead of alerts
    EMAIL_VERIFY_ADDRESS = "email.verify_address"  # the link that verifies a new address
    # A hub's reminder to a sending office of the items it owes and has not sent in time.
    EMAIL_COVERAGE_REMINDER = "email.coverage_reminder"
    WEBHOOK_EVENT = "webhook.event"  # a delivery event, fanned out to the subscriptions
    WEBHOOK_DELIVERY = "webhook.delivery"  # one event for one subscription, to post
    PAPER_JOB = "paper.job"  # a document handed to the paper process
    # A transmission's package reached a hub's mailbox: the hub receives it and forwards it.
    TRANSMISSION_FORWARD = "transmission.forward"

    @property
    def channel(self) -> Channel:
        """The channel that carries messages of this kind."""
        return Channel(self.value.partition(".")[0])


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: str = Field(default_factory=partial(new_id, "msg"), primary_key=True)
    kind: str = Field(max_length=40)  # an OutboxKind value
    delivery_id: str | None = Field(default=None, foreign_key="delivery.id", index=True)
    account_id: str | None = Field(default=None, foreign_key="account.id")
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=OutboxStatus.PENDING, max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class IdempotencyRecord(SQLModel, table=True):
    """The first result of a creating request, keyed by who sent it and its Idempotency-Key."""

    __tablename__ = "idempotency"
    __table_args__ = (UniqueConstraint("principal", "key"),)

    id: str = Field(default_factory=partial(new_id, "idm"), primary_key=True)
    principal: str = Field(max_length=64)
    key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    resource_id: str = Field(max_length=40)
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)


class WebhookSubscription(SQLModel, table=True):
    __tablename__ = "webhook_subscription"

    id: str = Field(default_factory=partial(new_id, "whk"), primary_key=True)
    account_id: str | None = Field(default=None, foreign_key="account.id", index=True)
    office_id: str | None = Field(default=None, foreign_key="office.id", index=True)
    url: str = Field(max_length=2000)
    secret: str = Field(max_length=200)
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)


class WebhookAttempt(SQLModel, table=True):
    __tablename__ = "webhook_attempt"

    id: str = Field(default_factory=partial(new_id, "wha"), primary_key=True)
    subscription_id: str = Field(foreign_key="webhook_subscription.id", index=True)
    outbox_id: str = Field(foreign_key="outbox.id", index=True)
    event_type: str = Field(max_length=40)
    attempted_at: datetime = Field(sa_type=UTCDateTime)
    ok: bool
    status_code: int | None = None
    detail: str = Field(max_length=500)
