"""Claiming due outbox messages for one drain round (step 1 of :mod:`.outbox`).

Pending messages that are due and not held by a live lease get ``claimed_until = now + lease``
and one more attempt. On PostgreSQL the rows are read ``FOR UPDATE SKIP LOCKED``, so several
workers share the queue and never take the same message. A channel whose circuit is open
(:mod:`mailbox.circuits`: our own side of it fails) gives none of its messages, or, once its
probe time has come, one: the probe.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from mailbox.models import Channel, OutboxKind, OutboxMessage, OutboxStatus
from mailbox.services import Services

__all__ = ["claim_due"]


async def claim_due(
    services: Services, limit: int, at: datetime, lease_seconds: float
) -> tuple[list[OutboxMessage], datetime, int]:
    """Claim up to ``limit`` due messages at ``at`` for ``lease_seconds``: each gets the lease
    and one more attempt (counted now, so that a message that crashes its worker runs out).
    Return them, the lease, and how many were claimed again after another worker's lease ran
    out. A channel whose circuit is open gives none, or one as its probe."""
    lease = at + timedelta(seconds=lease_seconds)
    circuits = services.circuits
    paused = [channel for channel in Channel if circuits[channel].claimable(at) is not None]
    probes = [channel for channel in paused if circuits[channel].claimable(at)]
    for channel in probes:  # before any await, so that a round side by side does not probe too
        circuits[channel].probing(at, services.settings)
    async with services.db.write() as session:
        rows = list((await session.exec(_due(at, limit, _kinds(paused), exclude=True))).all())
        for channel in probes:
            probe = (await session.exec(_due(at, 1, _kinds([channel]), exclude=False))).first()
            if probe is None:
                circuits[channel].retry_probe(at)  # nothing to probe with yet
            else:
                rows.append(probe)
        reclaimed = sum(1 for row in rows if row.claimed_until is not None)
        for row in rows:
            row.claimed_until = lease
            row.attempts += 1  # counted now, so a message that crashes its worker runs out
            session.add(row)
    return rows, lease, reclaimed


def _due(
    at: datetime, limit: int, kinds: list[str], *, exclude: bool
) -> SelectOfScalar[OutboxMessage]:
    """Pending messages due at ``at`` and held by no live lease, oldest first: of the kinds
    ``kinds`` only, or (``exclude``) of all other kinds."""
    statement = (
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING)
        .where(col(OutboxMessage.next_attempt_at) <= at)
        .where(
            or_(col(OutboxMessage.claimed_until).is_(None), col(OutboxMessage.claimed_until) < at)
        )
    )
    if exclude and kinds:
        statement = statement.where(col(OutboxMessage.kind).not_in(kinds))
    elif not exclude:
        statement = statement.where(col(OutboxMessage.kind).in_(kinds))
    return (
        statement.order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def _kinds(channels: Iterable[Channel]) -> list[str]:
    wanted = set(channels)
    return [kind.value for kind in OutboxKind if kind.channel in wanted]
