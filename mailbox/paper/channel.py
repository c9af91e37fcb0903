"""The paper channel of the outbox: what becomes of a ``paper.job`` message.

For now the job is only marked as handed on. That loses nothing: the delivery is already
``paper_queued`` with its RelayToNonERDS evidence (written with the job, in the same
transaction), and the paper batch will select ``paper_queued`` deliveries, not these rows.
The paper issue will make this channel produce the letters (print batches, then posted and
returned items), so that the job is done when its letter is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.channels import Handled, Recorded, Settled
from mailbox.models import OutboxMessage
from notifier import SendOutcome

__all__ = ["PaperChannel"]

_HANDED_ON = Handled(SendOutcome(True, False, "handed to the paper queue"), counted_as="completed")


class PaperChannel:
    """Handles ``paper.*`` messages for the drain (see :class:`mailbox.channels.ChannelHandler`)."""

    async def handle(
        self, messages: Sequence[OutboxMessage], *, connections: int | None
    ) -> dict[str, Handled]:
        """Hand every job on to the paper queue."""
        return {message.id: _HANDED_ON for message in messages}

    async def record(
        self, session: AsyncSession, settled: Sequence[Settled], *, at: datetime
    ) -> Recorded:
        """Nothing follows from a job handed on."""
        return Recorded()
