"""The transmission channel of the outbox: a ``transmission.forward`` message is a hub's system
receiving a hop of a transmission (:func:`mailbox.transmissions.forwarding.receive_hop`: take
the package, acknowledge it, forward or hold it).

:meth:`TransmissionChannel.handle` runs each receipt as its own use case (each owns its
transactions and is idempotent, so a message handled again after a crash changes nothing);
:meth:`TransmissionChannel.record` has nothing to add. Any failure is ours (the service's own
disk or database, or an office that closed its mailbox meanwhile): the message waits for the
channel's next try and is never given up, so a transmission is never lost on our account.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.channels import Handled, Recorded, Settled
from mailbox.models import OutboxMessage
from mailbox.services import Services
from mailbox.transmissions.forwarding import receive_hop
from notifier import SendOutcome

__all__ = ["TransmissionChannel"]

log = logging.getLogger("mailbox.transmissions")


class TransmissionChannel:
    """Handles ``transmission.*`` messages for the drain (see
    :class:`mailbox.channels.ChannelHandler`)."""

    def __init__(self, services: Services) -> None:
        self._services = services

    async def handle(
        self, messages: Sequence[OutboxMessage], *, connections: int | None
    ) -> dict[str, Handled]:
        """Have each message's hub receive its hop, one after the other."""
        handled: dict[str, Handled] = {}
        for message in messages:
            transmission_id = str(message.payload.get("transmission_id", ""))
            try:
                done = await receive_hop(
                    self._services, transmission_id, int(message.payload.get("hop", 0))
                )
            except Exception as exc:  # ours, whatever it is: wait and try again
                log.error(
                    "transmission hop not received: %s",
                    f"{type(exc).__name__}: {exc}"[:300],
                    extra={"transmission_id": transmission_id, "delivery_id": message.delivery_id},
                )
                detail = f"hub receipt failed: {type(exc).__name__}: {exc}"[:500]
                handled[message.id] = Handled(SendOutcome(False, False, detail, ours=True))
                continue
            handled[message.id] = Handled(SendOutcome(True, False, done), "completed")
        return handled

    async def record(
        self, session: AsyncSession, settled: Sequence[Settled], *, at: datetime
    ) -> Recorded:
        """Nothing: each receipt wrote its own rows."""
        return Recorded()
