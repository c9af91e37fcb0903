"""The contract between the outbox drain and the handler of each channel (email, webhook,
paper): what a handler does with the messages of its channel that one drain round claimed.

The drain (:mod:`mailbox.notifications.outbox`) claims due messages, groups them by channel
(:attr:`mailbox.models.OutboxKind.channel`) and gives each group to its channel's
:class:`ChannelHandler`, in two steps:

1. :meth:`~ChannelHandler.handle`, outside any transaction: do the channel's work (compose and
   send emails, post webhooks, ...) and say what became of each message (:class:`Handled`);
2. :meth:`~ChannelHandler.record`, inside the drain's one record transaction, after the drain
   settled each message (done, retrying or dead: :class:`Settled`): write what those fates
   cause (evidence, webhook attempts, new messages) and say so (:class:`Recorded`).

It lives in the shared base because handlers live in two rooms: notifications (email,
webhooks) and paper, which sits below notifications.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.models import OutboxMessage
from notifier import SendOutcome

__all__ = ["ChannelHandler", "Fate", "Handled", "Recorded", "Settled"]

# Where a claimed message goes once handled: done, pending for a later try, or given up. A
# failure of ours (SendOutcome.ours) is always "retrying": it waits, and is never given up.
Fate = Literal["done", "retrying", "dead"]


@dataclass(frozen=True)
class Handled:
    """What became of one message in :meth:`ChannelHandler.handle`.

    ``outcome`` decides its fate (done, retry later, dead). ``counted_as`` is how a success
    shows in the drain's report: ``sent`` (it left the service), ``skipped`` (no longer
    needed: nothing left) or ``completed`` (handed on inside the service: fanned out, queued
    for paper).
    """

    outcome: SendOutcome
    counted_as: Literal["sent", "skipped", "completed"] = "sent"


@dataclass(frozen=True)
class Settled:
    """A claimed message once the drain has moved it on: how it was handled and its fate."""

    message: OutboxMessage
    handled: Handled
    status: Fate


@dataclass(frozen=True)
class Recorded:
    """What a channel's record step added besides the messages' fates."""

    fanned_out: int = 0  # webhook.delivery messages created from webhook.event messages
    relayed_to_paper: int = 0  # deliveries sent to paper because their alert failed for good


@runtime_checkable
class ChannelHandler(Protocol):
    """The code of one channel, as the drain calls it."""

    async def handle(
        self, messages: Sequence[OutboxMessage], *, connections: int | None
    ) -> dict[str, Handled]:
        """Do the channel's work for ``messages``, outside any transaction (a short read-only
        session at most); return what became of each, by outbox id. A message left out is
        retried later. ``connections`` caps the SMTP connections this round may use.
        Never raises for a delivery problem."""
        ...

    async def record(
        self, session: AsyncSession, settled: Sequence[Settled], *, at: datetime
    ) -> Recorded:
        """Write, in the drain's transaction ``session``, what the fates of ``settled``
        cause; the caller commits."""
        ...
