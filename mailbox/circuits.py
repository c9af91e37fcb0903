"""The circuit breaker of each outbox channel: when our own side of a channel fails (our mail
server down, our disk full), the channel pauses instead of burning its messages' retry budgets.

A channel's circuit is **closed** while it works. The first failure that is ours
(:attr:`notifier.SendOutcome.ours`) **opens** it: the drain then claims none of the channel's
messages until the probe time, when it claims a single one as a **probe**; the probe time backs
off (the first retry delay, doubling, at most :data:`LONGEST_PROBE_INTERVAL` or
``outbox_backoff_max_seconds``, whichever is shorter). The first send that reaches the other
side (accepted, or answered by the server about the recipient) **closes** it again.

The state lives in the process (one :class:`Circuits` per :class:`mailbox.services.Services`):
several workers each keep their own, so each of them finds out about an outage with its own
first failed round, and each probes on its own. Nothing is lost that way; only the database
knows which message is due. Opening is logged at ERROR (once per outage, with the reason and
never an address), closing at WARNING; :meth:`Circuits.health` says where each channel stands.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mailbox.channels import Handled
from mailbox.config import Settings
from mailbox.models import Channel

__all__ = ["LONGEST_PROBE_INTERVAL", "Circuit", "Circuits"]

log = logging.getLogger("mailbox.circuits")

# However long the outage, a channel is tried again at least this often, so that the work
# resumes within minutes of the mail server's return. A probe is one message: it costs little.
LONGEST_PROBE_INTERVAL = timedelta(minutes=5)


@dataclass
class Circuit:
    """Where one channel stands in this process: closed (``opened_at`` is None) or open since
    ``opened_at`` because of ``reason``, to be probed at ``probe_at``."""

    channel: Channel
    opened_at: datetime | None = None
    probe_at: datetime | None = None
    failures: int = 0  # our failures in a row, since the circuit opened
    reason: str = ""

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None

    def claimable(self, at: datetime) -> int | None:
        """How many of the channel's messages a drain round may claim at ``at``: no limit
        (None) while closed, none while open, one (the probe) once the probe time has come."""
        if self.opened_at is None:
            return None
        assert self.probe_at is not None
        return 1 if at >= self.probe_at else 0

    def probing(self, at: datetime, settings: Settings) -> None:
        """A probe was claimed at ``at``: the next one waits a full interval, so that two
        rounds side by side do not both probe."""
        self.probe_at = at + self._interval(settings)

    def trip(self, reason: str, *, at: datetime, settings: Settings) -> None:
        """Our side failed at ``at``: open the circuit (or keep it open) until the next probe."""
        self.failures += 1
        self.probe_at = at + self._interval(settings)
        if self.opened_at is None:
            self.opened_at, self.reason = at, reason
            log.error(
                "the %s channel is down on our side (%s): its messages wait and count against "
                "no recipient; next try at %s",
                self.channel,
                reason,
                self.probe_at.isoformat(timespec="seconds"),
            )
        else:
            log.info("the %s channel is still down (%s)", self.channel, reason)

    def close(self, *, at: datetime) -> None:
        """The channel works (again): claim its messages as usual."""
        if self.opened_at is not None:
            log.warning(
                "the %s channel works again after %d s down: its waiting messages go out",
                self.channel,
                (at - self.opened_at).total_seconds(),
            )
        self.opened_at = self.probe_at = None
        self.failures, self.reason = 0, ""

    def retry_probe(self, at: datetime) -> None:
        """A probe told nothing (its message never reached the transport): probe again now."""
        if self.opened_at is not None:
            self.probe_at = at

    def health(self) -> str:
        """``"ok"``, or since when and why the circuit is open."""
        if self.opened_at is None:
            return "ok"
        return f"open since {self.opened_at.isoformat(timespec='seconds')}: {self.reason}"

    def _interval(self, settings: Settings) -> timedelta:
        longest = min(settings.outbox_backoff_max_seconds, LONGEST_PROBE_INTERVAL.total_seconds())
        seconds = settings.outbox_backoff_seconds * 2 ** max(self.failures - 1, 0)
        return timedelta(seconds=min(seconds, longest))


@dataclass
class Circuits:
    """The circuits of every channel, as this process sees them."""

    by_channel: dict[Channel, Circuit] = field(
        default_factory=lambda: {channel: Circuit(channel) for channel in Channel}
    )

    def __getitem__(self, channel: Channel) -> Circuit:
        return self.by_channel[channel]

    def observe(
        self, channel: Channel, handled: Iterable[Handled], *, at: datetime, settings: Settings
    ) -> None:
        """Open, keep open or close ``channel``'s circuit after a round handled ``handled``.

        Any failure of ours trips it. Otherwise a send that reached the other side (accepted,
        or refused by a server that answered) closes it. A round whose messages never reached
        the transport (skipped, not composed) says nothing about the channel.
        """
        circuit = self.by_channel[channel]
        results = list(handled)
        ours = next((one.outcome for one in results if one.outcome.ours), None)
        if ours is not None:
            circuit.trip(ours.detail, at=at, settings=settings)
        elif any(_reached(one) for one in results):
            circuit.close(at=at)
        else:
            circuit.retry_probe(at)

    def health(self) -> dict[str, str]:
        """Each channel's state, by name: ``"ok"`` or ``"open since …: reason"``."""
        return {channel.value: circuit.health() for channel, circuit in self.by_channel.items()}


def _reached(handled: Handled) -> bool:
    outcome = handled.outcome
    if outcome.ok:
        return handled.counted_as == "sent"
    return outcome.code is not None  # the server (or endpoint) answered
