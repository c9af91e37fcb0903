"""The operator's view of the outbox: the messages still pending or dead (channel, kind,
attempts, age, last error), and putting dead messages back in the queue once the cause is
fixed (``python -m mailbox outbox list|retry``).

A message put back is pending again with its attempts reset, due at once; the drain then
treats it like a new one (an alert that is no longer needed, because its document was picked up
or went to paper meanwhile, is skipped by its channel). Each one put back is logged at WARNING
with its id, kind and last error, so the log says who was retried when.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.errors import Conflict, NotFound
from mailbox.models import Channel, OutboxKind, OutboxMessage, OutboxStatus

__all__ = ["QueuedMessage", "list_messages", "requeue_dead"]

log = logging.getLogger("mailbox.notifications.dead_letters")


@dataclass(frozen=True)
class QueuedMessage:
    """One outbox message as an operator reads it."""

    id: str
    channel: str
    kind: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    done_at: datetime | None
    last_error: str | None
    delivery_id: str | None
    account_id: str | None

    @classmethod
    def of(cls, row: OutboxMessage) -> QueuedMessage:
        try:
            channel = OutboxKind(row.kind).channel.value
        except ValueError:
            channel = row.kind.partition(".")[0]
        return cls(
            id=row.id,
            channel=channel,
            kind=row.kind,
            status=row.status,
            attempts=row.attempts,
            created_at=row.created_at,
            next_attempt_at=row.next_attempt_at,
            done_at=row.done_at,
            last_error=row.last_error,
            delivery_id=row.delivery_id,
            account_id=row.account_id,
        )


async def list_messages(
    *,
    session: AsyncSession,
    status: OutboxStatus,
    channel: Channel | None = None,
    limit: int = 100,
) -> tuple[list[QueuedMessage], int]:
    """Up to ``limit`` messages of ``status`` (of ``channel`` only, if given), oldest first, and
    how many there are in all."""
    where = [OutboxMessage.status == status.value]
    if channel is not None:
        kinds = [kind.value for kind in OutboxKind if kind.channel == channel]
        where.append(col(OutboxMessage.kind).in_(kinds))
    total = (
        await session.exec(select(func.count()).select_from(OutboxMessage).where(*where))
    ).one()
    rows = (
        await session.exec(
            select(OutboxMessage)
            .where(*where)
            .order_by(col(OutboxMessage.created_at), col(OutboxMessage.id))
            .limit(limit)
        )
    ).all()
    return [QueuedMessage.of(row) for row in rows], int(total)


async def requeue_dead(
    *, session: AsyncSession, at: datetime, message_id: str | None, actor: str
) -> list[QueuedMessage]:
    """Put dead message ``message_id`` (``None``: every dead message) back in the queue:
    pending, attempts reset, due at ``at``. :class:`NotFound` for an unknown id,
    :class:`Conflict` for a message that is not dead; nothing is changed then."""
    statement = select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.DEAD.value)
    if message_id is not None:
        row = await session.get(OutboxMessage, message_id)
        if row is None:
            raise NotFound(f"No outbox message {message_id}")
        if row.status != OutboxStatus.DEAD:
            raise Conflict(f"Outbox message {message_id} is {row.status}, not dead: not retried")
        statement = statement.where(OutboxMessage.id == message_id)
    rows = (await session.exec(statement.order_by(col(OutboxMessage.id)).with_for_update())).all()
    for row in rows:
        log.warning(
            "dead outbox message put back in the queue by %s (%s, %d attempts; last error: %s)",
            actor,
            row.kind,
            row.attempts,
            row.last_error,
            extra={"outbox_id": row.id, "delivery_id": row.delivery_id},
        )
        row.status = OutboxStatus.PENDING.value
        row.attempts = 0
        row.next_attempt_at = at
        row.claimed_until = None
        row.done_at = None
        session.add(row)
    await session.flush()
    return [QueuedMessage.of(row) for row in rows]
