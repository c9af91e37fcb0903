"""The outbox drain: claim due messages, send them outside any transaction, record the results.

1. **Claim** (a short transaction): pending messages that are due and not held by a live lease
   get ``claimed_until = now + lease`` and one more attempt. On PostgreSQL the rows are read
   ``FOR UPDATE SKIP LOCKED``, so several workers share the queue and never take the same
   message; on SQLite one process drains (``Database.write()`` serialises it). A crashed
   worker's lease runs out and its messages are claimed again: that is the sweep.
2. **Send**: emails over one SMTP connection per batch (several for a big batch), webhooks
   concurrently. Nothing is held open in the database meanwhile.
3. **Record** (one transaction): done, retry later with exponential backoff and jitter, or dead
   (permanent failure, or the retry budget spent), with the evidence and paper rule that
   alerts' outcomes cause. A result is written only while the lease is still this worker's.

A crash between sending and recording sends the message again, never loses it; the
Message-ID (from the outbox id) lets a mail system recognise the duplicate.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.config import Settings
from mailbox.models import OutboxMessage, OutboxStatus
from mailbox.notifications.alert_outcomes import AlertFailed, AlertSent, record_alert_outcomes
from mailbox.notifications.alerts import ALERT_KINDS, compose_emails, send_emails
from mailbox.notifications.webhook_events import (
    fan_out,
    load_subscriptions,
    post_all,
    record_attempt,
)
from mailbox.services import Services
from notifier import SendOutcome

__all__ = ["DrainReport", "drain_once", "drain_until_idle", "retry_delay"]

log = logging.getLogger("mailbox.notifications.outbox")

# Kinds the drain completes without sending anything itself.
_PAPER_JOB = "paper.job"
_WEBHOOK_EVENT = "webhook.event"
_WEBHOOK_DELIVERY = "webhook.delivery"


@dataclass(frozen=True)
class DrainReport:
    """What one drain round did."""

    worker_id: str
    claimed: int = 0
    reclaimed: int = 0  # claimed again after another worker's lease ran out
    sent: int = 0
    skipped: int = 0  # no longer needed (e.g. a reminder for a document picked up since)
    retrying: int = 0
    dead: int = 0
    completed: int = 0  # webhook events fanned out, paper jobs handed on
    fanned_out: int = 0  # webhook.delivery rows created from webhook.event rows
    relayed_to_paper: int = 0
    lost_lease: int = 0  # results not recorded: the lease had passed to another worker


@dataclass
class _Round:
    """Outcomes gathered during one round, keyed by outbox id."""

    outcomes: dict[str, SendOutcome] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # outbox id -> why
    emails: dict[str, tuple[int, str]] = field(default_factory=dict)  # recipients, Message-ID


def retry_delay(attempts: int, settings: Settings) -> timedelta:
    """How long to wait after the ``attempts``-th failed try: the first backoff, doubling up
    to the longest delay, less up to 20 % of jitter so that failed batches spread out."""
    base = settings.outbox_backoff_seconds * 2 ** max(attempts - 1, 0)
    capped = min(base, settings.outbox_backoff_max_seconds)
    return timedelta(seconds=capped * random.uniform(0.8, 1.0))


async def drain_once(
    services: Services, *, worker_id: str, limit: int | None = None, connections: int | None = None
) -> DrainReport:
    """Claim up to ``limit`` due messages (default ``outbox_batch_size``), send them (emails
    over up to ``connections`` SMTP connections, default ``smtp_connections``) and record the
    results. Never raises for a delivery problem."""
    settings = services.settings
    claimed, lease, reclaimed = await _claim(
        services, limit or settings.outbox_batch_size, now(), settings.outbox_lease_seconds
    )
    if not claimed:
        return DrainReport(worker_id)
    if reclaimed:
        log.warning("claimed %d messages whose worker lease ran out", reclaimed)
    work = await _send(services, claimed, connections)
    report = await _record(services, claimed, lease, work, worker_id=worker_id)
    return replace(report, reclaimed=reclaimed)


async def drain_until_idle(
    services: Services, *, worker_id: str, max_rounds: int = 100, lanes: int = 2
) -> list[DrainReport]:
    """Drain rounds until one finds nothing due (or ``max_rounds`` ran). Messages a round
    creates (webhook deliveries fanned out, paper jobs) go out in the following rounds.

    ``lanes`` rounds run side by side, so that one lane records its results (CPU and
    database) while another waits on the network; they share ``smtp_connections``.
    """
    reports: list[DrainReport] = []
    rounds = iter(range(max_rounds))
    connections = max(1, services.settings.smtp_connections // lanes)

    async def lane(name: str) -> None:
        for _ in rounds:
            report = await drain_once(services, worker_id=name, connections=connections)
            if not report.claimed:
                return
            reports.append(report)

    await asyncio.gather(*(lane(f"{worker_id}/{n}") for n in range(1, lanes + 1)))
    return reports


async def _claim(
    services: Services, limit: int, at: datetime, lease_seconds: float
) -> tuple[list[OutboxMessage], datetime, int]:
    lease = at + timedelta(seconds=lease_seconds)
    async with services.db.write() as session:
        rows = (
            await session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.status == OutboxStatus.PENDING)
                .where(col(OutboxMessage.next_attempt_at) <= at)
                .where(
                    or_(
                        col(OutboxMessage.claimed_until).is_(None),
                        col(OutboxMessage.claimed_until) < at,
                    )
                )
                .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        reclaimed = sum(1 for row in rows if row.claimed_until is not None)
        for row in rows:
            row.claimed_until = lease
            row.attempts += 1  # counted now, so a message that crashes its worker runs out
            session.add(row)
    return list(rows), lease, reclaimed


async def _send(
    services: Services, claimed: Sequence[OutboxMessage], connections: int | None
) -> _Round:
    settings = services.settings
    work = _Round()
    emails = [m for m in claimed if m.kind.startswith("email.")]
    hooks = [m for m in claimed if m.kind == _WEBHOOK_DELIVERY]
    at = now()
    async with services.db.session() as session:
        compositions = (
            await compose_emails(session=session, settings=settings, messages=emails, at=at)
            if emails
            else {}
        )
        subscriptions = await load_subscriptions(session=session, messages=hooks)
    ready = []
    for message in emails:
        composition = compositions.get(message.id)
        if composition is None:
            continue  # could not be composed: retried later (see the log)
        if composition.email is not None:
            ready.append((message, composition.email))
        elif composition.skipped is not None:
            work.skipped[message.id] = composition.skipped
        else:
            work.outcomes[message.id] = SendOutcome(False, True, str(composition.impossible))
    email_outcomes, hook_outcomes = await asyncio.gather(
        send_emails(settings, [email for _, email in ready], connections=connections),
        post_all(hooks, subscriptions, timeout=settings.webhook_timeout_seconds, at=at),
    )
    for (message, email), outcome in zip(ready, email_outcomes, strict=True):
        work.outcomes[message.id] = outcome
        work.emails[message.id] = (len(email.to), email.message_id)
    work.outcomes.update(hook_outcomes)
    return work


async def _record(
    services: Services,
    claimed: Sequence[OutboxMessage],
    lease: datetime,
    work: _Round,
    *,
    worker_id: str,
) -> DrainReport:
    settings = services.settings
    at = now()
    counts = dict.fromkeys(("sent", "skipped", "completed", "retrying", "dead"), 0)
    sent: list[AlertSent] = []
    failed: list[AlertFailed] = []
    async with services.db.write() as session:
        rows = await _lock_own(session, [m.id for m in claimed], lease)
        events = [r for r in rows if r.kind == _WEBHOOK_EVENT]
        fanned_out = await fan_out(session=session, events=events, at=at)
        for row in rows:
            outcome = _outcome_of(row, work)
            if row.kind == _WEBHOOK_DELIVERY:
                record_attempt(session, row, outcome, at=at)
            status = _settle(row, outcome, settings, at)
            counts[_counter(row, status, work)] += 1
            if row.kind in ALERT_KINDS and row.id in work.emails and outcome.ok:
                recipients, message_id = work.emails[row.id]
                sent.append(AlertSent(row, recipients, message_id))
            elif row.kind in ALERT_KINDS and status == "dead":
                failed.append(AlertFailed(row, outcome.detail))
            if status == "dead":
                log.warning(
                    "outbox message is dead: %s",
                    outcome.detail,
                    extra={"outbox_id": row.id, "delivery_id": row.delivery_id},
                )
            session.add(row)
        relayed = await record_alert_outcomes(
            session=session, signer=services.evidence, sent=sent, failed=failed, at=at
        )
    return DrainReport(
        worker_id,
        claimed=len(claimed),
        fanned_out=fanned_out,
        relayed_to_paper=relayed,
        lost_lease=len(claimed) - len(rows),
        **counts,
    )


async def _lock_own(session: AsyncSession, ids: list[str], lease: datetime) -> list[OutboxMessage]:
    rows = (
        await session.exec(
            select(OutboxMessage)
            .where(col(OutboxMessage.id).in_(ids))
            .order_by(col(OutboxMessage.id))
            .with_for_update()
        )
    ).all()
    return [r for r in rows if r.status == OutboxStatus.PENDING and r.claimed_until == lease]


def _outcome_of(row: OutboxMessage, work: _Round) -> SendOutcome:
    if row.kind == _WEBHOOK_EVENT:
        return SendOutcome(True, False, "fanned out")  # in this very transaction
    if row.kind == _PAPER_JOB:
        # The paper batch (printing and posting) is a later issue. Marking the job done loses
        # nothing: the delivery is already paper_queued with its RelayToNonERDS evidence, and
        # the paper batch will select paper_queued deliveries, not these rows.
        return SendOutcome(True, False, "handed to the paper queue")
    if row.id in work.skipped:
        return SendOutcome(True, False, f"skipped: {work.skipped[row.id]}")
    outcome = work.outcomes.get(row.id)
    if outcome is None:
        if row.kind.startswith("email.") or row.kind == _WEBHOOK_DELIVERY:
            return SendOutcome(False, False, "not composed (see the log)")
        return SendOutcome(False, True, f"unknown outbox kind {row.kind}")
    return outcome


def _counter(row: OutboxMessage, status: str, work: _Round) -> str:
    if status != "done":
        return status
    if row.kind in (_WEBHOOK_EVENT, _PAPER_JOB):
        return "completed"
    return "skipped" if row.id in work.skipped else "sent"


def _settle(row: OutboxMessage, outcome: SendOutcome, settings: Settings, at: datetime) -> str:
    """Move ``row`` to its next state: ``done``, ``retrying`` or ``dead``."""
    row.claimed_until = None
    if outcome.ok:
        row.status, row.done_at, row.last_error = OutboxStatus.DONE, at, None
        _forget_secrets(row)
        return "done"
    error = outcome.detail
    if outcome.permanent or row.attempts >= settings.outbox_max_attempts:
        if not outcome.permanent:
            error = f"retry budget spent ({row.attempts} attempts): {error}"
        row.status, row.done_at, row.last_error = OutboxStatus.DEAD, at, error[:1000]
        _forget_secrets(row)
        return "dead"
    row.last_error = error[:1000]
    row.next_attempt_at = at + retry_delay(row.attempts, settings)
    return "retrying"


def _forget_secrets(row: OutboxMessage) -> None:
    # A verification token is only needed until its email has left (or never will).
    if "token" in row.payload:
        row.payload = {k: v for k, v in row.payload.items() if k != "token"}
