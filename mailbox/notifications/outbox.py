"""The outbox drain: claim due messages, let each channel do its work outside any transaction,
record the results.

1. **Claim** (a short transaction, :mod:`.claim`): pending messages that are due and not held
   by a live lease get ``claimed_until = now + lease`` and one more attempt. A channel whose
   circuit is open (:mod:`mailbox.circuits`: our side of it failed) gives none, or one as a
   probe. On PostgreSQL the rows are read ``FOR UPDATE SKIP LOCKED``, so several workers
   share the queue and never take the same message; on SQLite one process drains
   (``Database.write()`` serialises it). A crashed worker's lease runs out and its messages
   are claimed again: that is the sweep.
2. **Handle**: the claimed messages are grouped by channel (:class:`Channel`, from each
   message's :class:`OutboxKind`) and each group goes to its channel's handler, the channels
   side by side: emails over one SMTP connection per batch (several for a big batch),
   webhooks posted concurrently, paper letters rendered and stored. Nothing is held open in
   the database meanwhile. The handlers are registered in one table, :data:`CHANNELS`.
3. **Record** (one transaction): done, retry later with exponential backoff and jitter, or dead
   (permanent failure, or the retry budget spent). A failure that is ours (our mail server, our
   disk) is neither: the message gets its attempt back and waits for its channel's next probe,
   however long the outage, so it never reaches the paper rule on our account. Then each
   channel writes what those fates cause (webhook fan-out and attempts; the evidence and paper
   rule of alerts). A result is written only while the lease is still this worker's.

A crash between sending and recording sends the message again, never loses it; the
Message-ID (from the outbox id) lets a mail system recognise the duplicate.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.channels import ChannelHandler, Fate, Handled, Settled
from mailbox.clock import now
from mailbox.config import Settings
from mailbox.metrics import ALERTS
from mailbox.models import Channel, OutboxKind, OutboxMessage, OutboxStatus
from mailbox.notifications.claim import claim_due
from mailbox.notifications.email_channel import EmailChannel
from mailbox.notifications.webhook_events import WebhookChannel
from mailbox.paper.channel import PaperChannel
from mailbox.services import Services
from mailbox.transmissions.channel import TransmissionChannel
from notifier import SendOutcome

__all__ = ["CHANNELS", "DrainReport", "drain_once", "drain_until_idle", "retry_delay"]

log = logging.getLogger("mailbox.notifications.outbox")

# The handler of each channel, built once per drain from the service's parts. Channels are
# recorded in this order: webhooks first, so that the events they fan out describe the
# deliveries as the round found them, before the email channel's alert outcomes move them.
CHANNELS: Mapping[Channel, Callable[[Services], ChannelHandler]] = {
    Channel.WEBHOOK: WebhookChannel,
    Channel.EMAIL: EmailChannel,
    Channel.PAPER: PaperChannel,
    Channel.TRANSMISSION: TransmissionChannel,
}

# What the drain says of a message its channel's handler left out (a bug: see the log).
_NOT_HANDLED = Handled(SendOutcome(False, False, "not handled (see the log)"))


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
    completed: int = 0  # webhook events fanned out, paper letters made
    fanned_out: int = 0  # webhook.delivery rows created from webhook.event rows
    relayed_to_paper: int = 0
    lost_lease: int = 0  # results not recorded: the lease had passed to another worker


def retry_delay(attempts: int, settings: Settings) -> timedelta:
    """How long to wait after the ``attempts``-th failed try: the first backoff, doubling up
    to the longest delay, less up to 20 % of jitter so that failed batches spread out."""
    base = settings.outbox_backoff_seconds * 2 ** max(attempts - 1, 0)
    capped = min(base, settings.outbox_backoff_max_seconds)
    return timedelta(seconds=capped * random.uniform(0.8, 1.0))


async def drain_once(
    services: Services, *, worker_id: str, limit: int | None = None, connections: int | None = None
) -> DrainReport:
    """Claim up to ``limit`` due messages (default ``outbox_batch_size``), hand them to their
    channels (emails over up to ``connections`` SMTP connections, default ``smtp_connections``)
    and record the results. Never raises for a delivery problem."""
    return await _drain_round(
        services, _handlers(services), worker_id=worker_id, limit=limit, connections=connections
    )


async def drain_until_idle(
    services: Services,
    *,
    worker_id: str,
    max_rounds: int = 100,
    lanes: int = 2,
    stopping: Callable[[], bool] = lambda: False,
) -> list[DrainReport]:
    """Drain rounds until one finds nothing due (or ``max_rounds`` ran, or ``stopping()`` says
    the process is shutting down: then each lane ends with its current round). Messages a
    round creates (webhook deliveries fanned out, paper jobs) go out in the following rounds.

    ``lanes`` rounds run side by side, so that one lane records its results (CPU and
    database) while another waits on the network; they share ``smtp_connections``.
    """
    reports: list[DrainReport] = []
    rounds = iter(range(max_rounds))
    connections = max(1, services.settings.smtp_connections // lanes)
    handlers = _handlers(services)

    async def lane(name: str) -> None:
        for _ in rounds:
            if stopping():
                return
            report = await _drain_round(
                services, handlers, worker_id=name, limit=None, connections=connections
            )
            if not report.claimed:
                return
            reports.append(report)

    await asyncio.gather(*(lane(f"{worker_id}/{n}") for n in range(1, lanes + 1)))
    return reports


def _handlers(services: Services) -> dict[Channel, ChannelHandler]:
    return {channel: build(services) for channel, build in CHANNELS.items()}


async def _drain_round(
    services: Services,
    handlers: Mapping[Channel, ChannelHandler],
    *,
    worker_id: str,
    limit: int | None,
    connections: int | None,
) -> DrainReport:
    settings = services.settings
    claimed, lease, reclaimed = await claim_due(
        services, limit or settings.outbox_batch_size, now(), settings.outbox_lease_seconds
    )
    if not claimed:
        return DrainReport(worker_id)
    if reclaimed:
        log.warning("claimed %d messages whose worker lease ran out", reclaimed)
    handled = await _handle(handlers, claimed, connections)
    groups, _ = _by_channel(claimed)
    for channel, group in groups.items():
        services.circuits.observe(
            channel,
            (handled.get(message.id, _NOT_HANDLED) for message in group),
            at=now(),
            settings=settings,
        )
    report = await _record(services, handlers, claimed, lease, handled, worker_id=worker_id)
    return replace(report, reclaimed=reclaimed)


def _by_channel(
    messages: Iterable[OutboxMessage],
) -> tuple[dict[Channel, list[OutboxMessage]], list[OutboxMessage]]:
    """``messages`` grouped by channel, in the order of :data:`CHANNELS`; and those whose kind
    this version does not know."""
    groups: dict[Channel, list[OutboxMessage]] = {channel: [] for channel in CHANNELS}
    unknown: list[OutboxMessage] = []
    for message in messages:
        try:
            groups[OutboxKind(message.kind).channel].append(message)
        except ValueError:
            unknown.append(message)
    return {channel: group for channel, group in groups.items() if group}, unknown


async def _handle(
    handlers: Mapping[Channel, ChannelHandler],
    claimed: Sequence[OutboxMessage],
    connections: int | None,
) -> dict[str, Handled]:
    groups, _ = _by_channel(claimed)
    results = await asyncio.gather(
        *(
            handlers[channel].handle(messages, connections=connections)
            for channel, messages in groups.items()
        )
    )
    return {outbox_id: one for result in results for outbox_id, one in result.items()}


async def _record(
    services: Services,
    handlers: Mapping[Channel, ChannelHandler],
    claimed: Sequence[OutboxMessage],
    lease: datetime,
    handled: Mapping[str, Handled],
    *,
    worker_id: str,
) -> DrainReport:
    settings = services.settings
    at = now()
    counts = dict.fromkeys(("sent", "skipped", "completed", "retrying", "dead"), 0)
    fanned_out = relayed = 0
    emails: Counter[str] = Counter()
    async with services.db.write() as session:
        rows = await _lock_own(session, [m.id for m in claimed], lease)
        groups, unknown = _by_channel(rows)
        for row in unknown:
            outcome = Handled(SendOutcome(False, True, f"unknown outbox kind {row.kind}"))
            counts[_counter(_settled(row, outcome, settings, at, at))] += 1
        for channel, group in groups.items():
            # A message that failed on our side waits for the channel's next probe.
            resume_at = services.circuits[channel].probe_at or at + retry_delay(1, settings)
            settled = [
                _settled(row, handled.get(row.id, _NOT_HANDLED), settings, at, resume_at)
                for row in group
            ]
            for item in settled:
                counts[_counter(item)] += 1
                if channel == Channel.EMAIL:
                    emails[_counter(item)] += 1
            recorded = await handlers[channel].record(session, settled, at=at)
            fanned_out += recorded.fanned_out
            relayed += recorded.relayed_to_paper
        session.add_all(rows)
    for outcome, number in emails.items():  # counted once committed
        ALERTS.labels(outcome=outcome).inc(number)
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


def _settled(
    row: OutboxMessage, handled: Handled, settings: Settings, at: datetime, resume_at: datetime
) -> Settled:
    """Move ``row`` to its next state after ``handled``: done, retrying or dead."""
    settled = Settled(row, handled, _settle(row, handled.outcome, settings, at, resume_at))
    if settled.status == "dead":
        log.warning(
            "outbox message is dead: %s",
            handled.outcome.detail,
            extra={"outbox_id": row.id, "delivery_id": row.delivery_id},
        )
    return settled


def _counter(settled: Settled) -> str:
    """The field of :class:`DrainReport` that counts ``settled``."""
    return settled.handled.counted_as if settled.status == "done" else settled.status


def _settle(
    row: OutboxMessage, outcome: SendOutcome, settings: Settings, at: datetime, resume_at: datetime
) -> Fate:
    row.claimed_until = None
    if outcome.ok:
        row.status, row.done_at, row.last_error = OutboxStatus.DONE, at, None
        _forget_secrets(row)
        return "done"
    error = outcome.detail
    if outcome.ours:
        # Our fault never counts against the recipient: the attempt (counted at claim time, for
        # a worker that crashes) is given back, and the message waits for its channel.
        row.attempts = max(row.attempts - 1, 0)
        row.last_error = error[:1000]
        row.next_attempt_at = max(resume_at, at)
        return "retrying"
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
