"""Delivery rules: the state machine of DESIGN.md as pure functions over a Delivery and a time.

Each transition moves the delivery along one arrow, stamps the legal time and returns the
:class:`EvidenceDraft` that the caller appends to the log in the same transaction. An arrow the
machine does not have raises :class:`IllegalTransition`; nothing passes silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mailbox.deliveries.calendars import Calendar
from mailbox.deliveries.legal_clock import (
    DEFAULT_RULE_ID,
    Rule,
    deemed_moment,
    explain,
    rule_with_days,
)
from mailbox.deliveries.paper_rule import PaperDecision, after_alerts_failed, who_gets_paper
from mailbox.errors import IllegalTransition
from mailbox.evidence.log import EvidenceDraft, EvidenceType
from mailbox.models import Account, Delivery, DeliveryStatus
from mailbox.timefmt import rfc3339

__all__ = [
    "FINAL_STATES",
    "TRANSITIONS",
    "accept",
    "consign",
    "content_available",
    "deem_delivered",
    "hand_over",
    "hand_over_paper_copy",
    "hand_to_printer",
    "mark_paper_posted",
    "mark_paper_returned",
    "notified",
    "on_notification_failure",
    "purge_content",
    "relay_to_paper",
    "who_gets_paper",
]

S = DeliveryStatus

# (from, to) pairs the machine allows.
TRANSITIONS: frozenset[tuple[S, S]] = frozenset(
    {
        (S.SUBMITTED, S.AVAILABLE),
        (S.SUBMITTED, S.PAPER_QUEUED),
        (S.SUBMITTED, S.REJECTED),
        (S.AVAILABLE, S.PICKED_UP),
        (S.AVAILABLE, S.DEEMED_DELIVERED),
        (S.AVAILABLE, S.PAPER_QUEUED),
        (S.DEEMED_DELIVERED, S.PICKED_UP),
        (S.PAPER_QUEUED, S.PAPER_POSTED),
        (S.PAPER_POSTED, S.PAPER_RETURNED),
    }
)


def _move(delivery: Delivery, to: S) -> None:
    current = S(delivery.status)
    if (current, to) not in TRANSITIONS:
        raise IllegalTransition(
            f"Delivery {delivery.id} cannot go from {current.value} to {to.value}"
        )
    delivery.status = to.value


def accept(delivery: Delivery, *, actor: str, details: Mapping[str, Any]) -> EvidenceDraft:
    """The dispatch was received and is valid (the delivery stays ``submitted``)."""
    if delivery.status != S.SUBMITTED:
        raise IllegalTransition(f"Delivery {delivery.id} was already accepted")
    return EvidenceDraft(EvidenceType.SUBMISSION_ACCEPTANCE, actor, details=details)


def consign(
    delivery: Delivery,
    *,
    at: datetime,
    deemed_days: int = 10,
    rule: Rule | None = None,
    zone: str = "UTC",
    calendar: Calendar | None = None,
) -> EvidenceDraft:
    """Make the document available in the mailbox: legal delivery into the mailbox, under
    ``rule`` of the legal clock (by default the default rule with ``deemed_days``), its legal
    dates being days in the office's time zone ``zone`` and its ``calendar`` of closed days
    (kept on the delivery). The rule and the legal date as known now go into the evidence."""
    rule = rule or rule_with_days(DEFAULT_RULE_ID, deemed_days)
    _move(delivery, S.AVAILABLE)
    delivery.available_at = at
    delivery.clock_rule, delivery.clock_days, delivery.clock_zone = rule.id, rule.days, zone
    delivery.clock_calendar = calendar.as_json() if calendar is not None else None
    legal = explain(delivery, at=at)
    delivery.deemed_due_at = deemed_moment(rule, at, legal.shifted_days)
    details: dict[str, Any] = {"legal_date": legal.evidence()}
    if delivery.deemed_due_at is not None:
        details["deemed_due_at"] = rfc3339(delivery.deemed_due_at)
    return EvidenceDraft(EvidenceType.CONTENT_CONSIGNMENT, "service", details=details)


def content_available(delivery: Delivery) -> bool:
    """Whether the delivery's content can be handed over electronically (it was made available;
    not a paper or rejected delivery; not purged at the end of its retention period)."""
    return (
        S(delivery.status) in (S.AVAILABLE, S.DEEMED_DELIVERED, S.PICKED_UP)
        and delivery.content_purged_at is None
    )


# The states in which a delivery's legal course is over, so that its content may be purged
# once its retention period has passed; never one still waiting for pickup.
FINAL_STATES = frozenset({S.PICKED_UP, S.DEEMED_DELIVERED, S.PAPER_POSTED, S.PAPER_RETURNED})


def purge_content(
    delivery: Delivery, *, at: datetime, reason: str, details: Mapping[str, Any]
) -> EvidenceDraft:
    """The content's retention period is over: it is removed (crypto-shredded by the caller once
    this is committed). Only a delivery whose legal state is final, and only once; its status,
    evidence and the document's hashes stay."""
    status = S(delivery.status)
    if status not in FINAL_STATES:
        raise IllegalTransition(
            f"Delivery {delivery.id} is {status.value}; only a final delivery's content is purged"
        )
    if delivery.content_purged_at is not None:
        raise IllegalTransition(f"The content of delivery {delivery.id} was purged already")
    delivery.content_purged_at = at
    delivery.content_purge_reason = reason[:500]
    return EvidenceDraft(
        EvidenceType.CONTENT_PURGED, "service", details={**details, "reason": reason[:500]}
    )


def hand_over(
    delivery: Delivery,
    *,
    at: datetime,
    actor: str,
    ip: str | None,
    via: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> EvidenceDraft:
    """Record that the content was handed out: the first time is the handover (pickup), later
    ones are accesses. ``via`` names the path when it is not the document download;
    ``details`` adds what else is known (the byte range served): the first content served,
    whole or part, is the handover."""
    status = S(delivery.status)
    details = {**(details or {}), **({"via": via} if via else {})}
    if status in (S.AVAILABLE, S.DEEMED_DELIVERED):
        _move(delivery, S.PICKED_UP)
        delivery.picked_up_at = at
        delivery.picked_up_by = actor
        details["legal_date"] = explain(delivery, at=at).evidence()
        return EvidenceDraft(EvidenceType.CONTENT_HANDOVER, actor, actor_ip=ip, details=details)
    if status == S.PICKED_UP:
        return EvidenceDraft(EvidenceType.CONTENT_ACCESS, actor, actor_ip=ip, details=details)
    raise IllegalTransition(f"Delivery {delivery.id} is {status.value}; it cannot be picked up")


def deem_delivered(delivery: Delivery, *, at: datetime) -> EvidenceDraft:
    """The pickup deadline passed: the document now counts as delivered, as the legal clock
    decides (its rule, date and sentence go into the evidence)."""
    legal = explain(delivery, at=at)
    if (
        delivery.deemed_due_at is None
        or at < delivery.deemed_due_at
        or legal.basis != "deemed"
        or not legal.settled
    ):
        raise IllegalTransition(f"Delivery {delivery.id} is not yet due for deemed delivery")
    _move(delivery, S.DEEMED_DELIVERED)
    delivery.deemed_delivered_at = delivery.deemed_due_at
    return EvidenceDraft(
        EvidenceType.DEEMED_DELIVERY,
        "service",
        details={
            "deemed_delivered_at": rfc3339(delivery.deemed_due_at),
            "legal_date": legal.evidence(),
        },
    )


def relay_to_paper(delivery: Delivery, *, at: datetime, decision: PaperDecision) -> EvidenceDraft:
    """Electronic delivery is not possible: hand the document to the paper process, with the
    reason as :mod:`mailbox.deliveries.paper_rule` decided it (code and sentence)."""
    _move(delivery, S.PAPER_QUEUED)
    delivery.paper_queued_at = at
    delivery.paper_reason = decision.sentence
    delivery.paper_reason_code = decision.code.value
    return EvidenceDraft(EvidenceType.RELAY_TO_NON_ERDS, "service", details=decision.evidence())


def notified(delivery: Delivery, *, at: datetime, details: Mapping[str, Any]) -> EvidenceDraft:
    """An alert about ``delivery`` was accepted by the mail system (NotificationForAcceptance).

    The first one stamps ``notified_at``; later ones (a digest after an alert) keep it.
    """
    if delivery.notified_at is None:
        delivery.notified_at = at
    return EvidenceDraft(EvidenceType.NOTIFICATION_FOR_ACCEPTANCE, "service", details=details)


def on_notification_failure(
    delivery: Delivery, account: Account, *, at: datetime, reason: str, details: Mapping[str, Any]
) -> tuple[EvidenceDraft, ...]:
    """An alert about ``delivery`` failed for good (hard bounce, no verified address, retry
    budget spent): the account's notifications fail permanently, so electronic delivery is not
    possible (DESIGN.md).

    Suspends the account's electronic delivery and returns the NotificationFailure record,
    followed by the relay to paper (RelayToNonERDS) when the document still waits for pickup.
    A document already picked up or deemed delivered stays where it is.
    """
    if not account.edelivery_suspended_reason:
        account.edelivery_suspended_reason = f"notifications fail permanently: {reason}"[:500]
    drafts = [
        EvidenceDraft(
            EvidenceType.NOTIFICATION_FAILURE, "service", details={**details, "reason": reason}
        )
    ]
    if delivery.status == S.AVAILABLE:
        drafts.append(relay_to_paper(delivery, at=at, decision=after_alerts_failed()))
    return tuple(drafts)


def mark_paper_posted(
    delivery: Delivery, *, at: datetime, actor: str, tracking_number: str | None = None
) -> EvidenceDraft:
    """The letter was posted (by the printing contractor, or the office): the paper-posting
    rule of the legal clock counts from this day; its sentence goes into the evidence."""
    _move(delivery, S.PAPER_POSTED)
    delivery.paper_posted_at = at
    details: dict[str, Any] = {"legal_date": explain(delivery, at=at).evidence()}
    if tracking_number:
        details["tracking_number"] = tracking_number
    return EvidenceDraft(EvidenceType.PAPER_POSTED, actor, details=details)


def mark_paper_returned(
    delivery: Delivery, *, at: datetime, actor: str, reason: str
) -> EvidenceDraft:
    """The posted letter came back undeliverable, for ``reason``."""
    _move(delivery, S.PAPER_RETURNED)
    delivery.paper_returned_at = at
    return EvidenceDraft(EvidenceType.PAPER_RETURNED, actor, details={"reason": reason})


_PAPER_STATES = frozenset({S.PAPER_QUEUED, S.PAPER_POSTED, S.PAPER_RETURNED})


def hand_to_printer(
    delivery: Delivery, *, actor: str, ip: str | None, batch_id: str
) -> EvidenceDraft:
    """The content left the service in a print batch (downloaded by the printing contractor or
    the office): a ContentAccess by them, which changes nothing of the delivery's course."""
    if S(delivery.status) not in _PAPER_STATES:
        raise IllegalTransition(f"Delivery {delivery.id} is not served on paper")
    return EvidenceDraft(
        EvidenceType.CONTENT_ACCESS,
        actor,
        actor_ip=ip,
        details={"via": "print batch", "batch_id": batch_id},
    )


def hand_over_paper_copy(
    delivery: Delivery, *, at: datetime, actor: str, ip: str | None, first: bool
) -> EvidenceDraft:
    """The electronic copy of a paper delivery was opened by its recipient (through the
    letter's retrieval code): the first time a ContentHandover, later a ContentAccess. The
    delivery stays on its paper course: the legal clock's date (which goes into the evidence)
    is the paper service's, never this opening's."""
    if S(delivery.status) not in _PAPER_STATES:
        raise IllegalTransition(f"Delivery {delivery.id} is not served on paper")
    details: dict[str, Any] = {
        "via": "retrieval code",
        "legal_date": explain(delivery, at=at).evidence(),
    }
    kind = EvidenceType.CONTENT_HANDOVER if first else EvidenceType.CONTENT_ACCESS
    return EvidenceDraft(kind, actor, actor_ip=ip, details=details)
