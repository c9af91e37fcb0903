"""Response schemas of a hub's coverage report, its list of expected items and its reminders
(the report's CSV is :func:`mailbox.coverage.report.coverage_csv`)."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct, field

from mailbox.coverage.expected import UploadCounts
from mailbox.coverage.reminders import ReminderRound
from mailbox.coverage.report import Coverage, CoverageItem, Received, SenderCounts
from mailbox.timefmt import rfc3339_or_none

__all__ = ["CoveragePublic", "ExpectedUploadPublic", "RemindersPublic"]


class ExpectedUploadPublic(Struct, kw_only=True):
    """What an upload of expected items did."""

    hub: Annotated[str, Meta(examples=["IB"])]
    added: Annotated[int, Meta(description="Items the hub did not expect before.")]
    updated: Annotated[int, Meta(description="Items already expected whose due date changed.")]
    unchanged: Annotated[int, Meta(description="Items already expected with the same due date.")]

    @classmethod
    def of(cls, hub: str, counts: UploadCounts) -> ExpectedUploadPublic:
        return cls(hub=hub, added=counts.added, updated=counts.updated, unchanged=counts.unchanged)


class SenderCountsPublic(Struct, kw_only=True):
    """A sending office's expected items of the period, by class."""

    sender: Annotated[str, Meta(examples=["EP"])]
    expected: int
    on_time: int
    late: int
    missing: int
    pending: int

    @classmethod
    def of(cls, counts: SenderCounts) -> SenderCountsPublic:
        return cls(
            sender=counts.sender,
            expected=counts.expected,
            on_time=counts.on_time,
            late=counts.late,
            missing=counts.missing,
            pending=counts.pending,
        )


class CoverageItemPublic(Struct, kw_only=True):
    """One expected item: `on_time` (received before the end of its due day in the hub's time
    zone), `late` (received after it), `missing` (not received, due day over) or `pending`
    (not received, not yet due); the delivery that brought it, if any."""

    sender: Annotated[str, Meta(examples=["EP"])]
    kind: Annotated[str, Meta(examples=["national-phase-entry"])]
    international_application_number: Annotated[str, Meta(examples=["PCT/EP2026/012345"])]
    due_on: Annotated[str, Meta(examples=["2026-12-15"])]
    status: Annotated[str, Meta(examples=["late"])]
    delivery_id: str | None
    received_at: str | None
    reminded_at: str | None

    @classmethod
    def of(cls, item: CoverageItem) -> CoverageItemPublic:
        return cls(
            sender=item.sender,
            kind=item.kind,
            international_application_number=item.international_application_number,
            due_on=item.due_on.isoformat(),
            status=item.status.value,
            delivery_id=item.delivery_id,
            received_at=rfc3339_or_none(item.received_at),
            reminded_at=rfc3339_or_none(item.reminded_at),
        )


class ReceivedPublic(Struct, kw_only=True):
    """A delivery into the hub's mailbox in the period that no expected item names."""

    delivery_id: str
    sender: str
    kind: str
    international_application_number: str
    received_at: str

    @classmethod
    def of(cls, received: Received) -> ReceivedPublic:
        return cls(
            delivery_id=received.delivery_id,
            sender=received.sender,
            kind=received.kind,
            international_application_number=received.international_application_number,
            received_at=rfc3339_or_none(received.received_at) or "",
        )


class CoveragePublic(Struct, kw_only=True):
    """The hub's coverage of a period (days in its time zone, both included)."""

    hub: Annotated[str, Meta(examples=["IB"])]
    time_zone: Annotated[str, Meta(examples=["Europe/Zurich"])]
    period_from: Annotated[str, Meta(examples=["2026-12-01"])] = field(name="from")
    period_to: Annotated[str, Meta(examples=["2026-12-31"])] = field(name="to")
    today: Annotated[str, Meta(description="The day the report was made, in the hub's zone.")]
    senders: list[SenderCountsPublic]
    items: list[CoverageItemPublic]
    unexpected: list[ReceivedPublic]
    unexpected_truncated: Annotated[
        bool, Meta(description="More deliveries were received unexpected than listed.")
    ]

    @classmethod
    def of(cls, report: Coverage) -> CoveragePublic:
        return cls(
            hub=report.hub.code,
            time_zone=report.hub.time_zone,
            period_from=report.period_from.isoformat(),
            period_to=report.period_to.isoformat(),
            today=report.today.isoformat(),
            senders=[SenderCountsPublic.of(s) for s in report.senders],
            items=[CoverageItemPublic.of(i) for i in report.items],
            unexpected=[ReceivedPublic.of(r) for r in report.unexpected],
            unexpected_truncated=report.unexpected_truncated,
        )


class ReminderPublic(Struct, kw_only=True):
    sender: str
    items: int
    recipients: int
    outbox_id: str


class UnreachablePublic(Struct, kw_only=True):
    sender: str
    items: int
    reason: Annotated[str, Meta(examples=["the office has no mailbox"])]


class RemindersPublic(Struct, kw_only=True):
    """What a round of reminders did: `sent` emails (waiting in the outbox until they leave),
    the offices that cannot be reminded, and those already reminded today about every item."""

    hub: str
    period_from: str = field(name="from")
    period_to: str = field(name="to")
    sent: int
    reminders: list[ReminderPublic]
    cannot_be_reminded: list[UnreachablePublic]
    already_reminded_today: list[str]

    @classmethod
    def of(cls, report: Coverage, round_: ReminderRound) -> RemindersPublic:
        return cls(
            hub=report.hub.code,
            period_from=report.period_from.isoformat(),
            period_to=report.period_to.isoformat(),
            sent=len(round_.sent),
            reminders=[
                ReminderPublic(
                    sender=r.sender, items=r.items, recipients=r.recipients, outbox_id=r.outbox_id
                )
                for r in round_.sent
            ],
            cannot_be_reminded=[
                UnreachablePublic(sender=u.sender, items=u.items, reason=u.reason)
                for u in round_.cannot_be_reminded
            ],
            already_reminded_today=round_.already_reminded_today,
        )
