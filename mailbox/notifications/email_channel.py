"""The email channel of the outbox: compose the claimed ``email.*`` messages, send them through
the transport chosen from the settings, and record what an alert's fate means for its
deliveries.

The transport is chosen once, when the channel is built: an SMTP server, or the pickup
directory when one is configured (``email_pickup_dir``). Composing is :mod:`.alerts`; what
an accepted or failed alert causes (evidence, paper) is :mod:`.alert_outcomes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.channels import Handled, Recorded, Settled
from mailbox.clock import now
from mailbox.config import Settings
from mailbox.models import OutboxMessage
from mailbox.notifications.alert_outcomes import AlertFailed, AlertSent, record_alert_outcomes
from mailbox.notifications.alerts import ALERT_KINDS, compose_emails
from mailbox.services import Services
from notifier import (
    EmailMessage,
    PickupDirectory,
    SendOutcome,
    SmtpSettings,
    SmtpTransport,
    Transport,
)

__all__ = ["EmailChannel", "Emailed", "email_transport", "smtp_settings"]

# A message that could not be composed (a bug, bad data: see the log) waits for its retry.
_NOT_COMPOSED = Handled(SendOutcome(False, False, "not composed (see the log)"))


@dataclass(frozen=True, kw_only=True)
class Emailed(Handled):
    """An email that went to the transport: how many recipients, under which Message-ID."""

    recipients: int
    message_id: str


def smtp_settings(settings: Settings) -> SmtpSettings:
    """The transport settings of the SMTP server named by ``settings``."""
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=password,
        timeout=settings.smtp_timeout,
        sender=settings.smtp_sender,
    )


def email_transport(settings: Settings) -> Transport:
    """The transport ``settings`` ask for: the pickup directory when one is configured, else
    the SMTP server with up to ``smtp_connections`` connections."""
    smtp = smtp_settings(settings)
    if settings.email_pickup_dir is not None:
        return PickupDirectory(settings.email_pickup_dir, smtp)
    return SmtpTransport(smtp, connections=settings.smtp_connections)


class EmailChannel:
    """Handles ``email.*`` messages for the drain (see :class:`mailbox.channels.ChannelHandler`)."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._transport = email_transport(services.settings)  # chosen once, here

    async def handle(
        self, messages: Sequence[OutboxMessage], *, connections: int | None
    ) -> dict[str, Handled]:
        """Compose each message and send those that are ready. A message no longer needed is
        skipped; one that can never be sent (no verified address) fails for good."""
        settings = self._services.settings
        async with self._services.db.session() as session:
            compositions = await compose_emails(
                session=session, settings=settings, messages=messages, at=now()
            )
        handled: dict[str, Handled] = {}
        ready: list[tuple[OutboxMessage, EmailMessage]] = []
        for message in messages:
            composition = compositions.get(message.id)
            if composition is None:
                handled[message.id] = _NOT_COMPOSED
            elif composition.email is not None:
                ready.append((message, composition.email))
            elif composition.skipped is not None:
                outcome = SendOutcome(True, False, f"skipped: {composition.skipped}")
                handled[message.id] = Handled(outcome, counted_as="skipped")
            else:
                handled[message.id] = Handled(SendOutcome(False, True, str(composition.impossible)))
        outcomes = await self._transport.send(
            [email for _, email in ready], connections=connections
        )
        for (message, email), outcome in zip(ready, outcomes, strict=True):
            handled[message.id] = Emailed(
                outcome, recipients=len(email.to), message_id=email.message_id
            )
        return handled

    async def record(
        self, session: AsyncSession, settled: Sequence[Settled], *, at: datetime
    ) -> Recorded:
        """An alert accepted notifies its deliveries; one dead sends them to paper."""
        sent: list[AlertSent] = []
        failed: list[AlertFailed] = []
        for item in settled:
            if item.message.kind not in ALERT_KINDS:
                continue
            handled = item.handled
            if isinstance(handled, Emailed) and handled.outcome.ok:
                sent.append(AlertSent(item.message, handled.recipients, handled.message_id))
            elif item.status == "dead":
                failed.append(AlertFailed(item.message, handled.outcome.detail))
        relayed = await record_alert_outcomes(
            session=session, signer=self._services.evidence, sent=sent, failed=failed, at=at
        )
        return Recorded(relayed_to_paper=relayed)
