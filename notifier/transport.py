"""What the email channel sends through: a :class:`Transport` takes a batch of rendered
emails and reports one :class:`~notifier.failures.SendOutcome` per email, in order.

Two transports implement it: :class:`notifier.email.SmtpTransport` (an SMTP server, one
connection per batch, several batches in parallel) and :class:`notifier.pickup_dir.PickupDirectory`
(``.eml`` files in a folder, for development and demonstrations). The caller chooses one when
it starts and never asks again which it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from notifier.failures import SendOutcome
from notifier.message import EmailMessage

__all__ = ["Transport"]


@runtime_checkable
class Transport(Protocol):
    """Sends batches of emails."""

    async def send(
        self, messages: Sequence[EmailMessage], *, connections: int | None = None
    ) -> list[SendOutcome]:
        """Send ``messages``; return one outcome per message, in order.

        ``connections`` caps how many connections this batch may use at once (callers that
        share a budget say so; ``None`` means the transport's own setting); a transport that
        opens none ignores it. Never raises for a delivery problem.
        """
        ...
