"""Email over SMTP: one connection per batch, one outcome per message.

:func:`send_batch` opens a single aiosmtplib connection (plain, STARTTLS or implicit TLS) and
sends each message on it as multipart/alternative (text and HTML). It never raises for a
delivery problem: each message gets a :class:`SendOutcome`, classified in
:mod:`notifier.failures`. :func:`send_batches_parallel` spreads a large queue over several
connections. :class:`SmtpTransport` is the :class:`~notifier.transport.Transport` built on them.
"""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import aiosmtplib

from notifier.failures import SendOutcome, classify_smtp_error, is_connection_lost
from notifier.message import EmailMessage
from notifier.mime import address_of, build_mime, to_bytes

__all__ = [
    "SendOutcome",
    "SmtpSettings",
    "SmtpTransport",
    "send_batch",
    "send_batches_parallel",
]

# Below this many messages per connection, more connections cost more than they save.
MESSAGES_PER_CONNECTION = 100


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to reach the SMTP server.

    ``security`` is ``"plain"`` (no TLS, not even opportunistic), ``"starttls"`` (upgrade
    after the greeting, refuse if the server cannot) or ``"tls"`` (TLS from the first byte).
    ``timeout`` bounds each network operation, in seconds.
    """

    host: str = "127.0.0.1"
    port: int = 25
    security: Literal["plain", "starttls", "tls"] = "plain"
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0
    sender: str = "Mailbox <no-reply@localhost>"
    validate_certs: bool = True

    def __post_init__(self) -> None:
        if self.security not in ("plain", "starttls", "tls"):
            raise ValueError(f"unknown SMTP security {self.security!r}")
        if (self.username is None) != (self.password is None):
            raise ValueError("SMTP username and password go together")
        if self.timeout <= 0:
            raise ValueError("SMTP timeout must be positive")
        _, address = email.utils.parseaddr(self.sender)
        if "@" not in address or not address.isascii():
            raise ValueError("SMTP sender must be an ASCII address, as in 'Name <user@host>'")

    def __repr__(self) -> str:
        # The password must never reach a log line through a repr.
        password = "***" if self.password is not None else None
        return (
            f"SmtpSettings(host={self.host!r}, port={self.port!r}, security={self.security!r}, "
            f"username={self.username!r}, password={password!r}, timeout={self.timeout!r}, "
            f"sender={self.sender!r}, validate_certs={self.validate_certs!r})"
        )


async def send_batch(settings: SmtpSettings, messages: Sequence[EmailMessage]) -> list[SendOutcome]:
    """Send ``messages`` over one SMTP connection; return one outcome per message, in order.

    If the connection cannot be opened, every outcome is retryable and ours. If it drops
    mid-batch, the message in flight is retryable and ours (the server may or may not have
    taken it), one new connection is tried, and if that fails too the rest are retryable and
    ours without being tried.
    Never raises for a delivery problem.
    """
    if not messages:
        return []
    envelope_sender = address_of(settings.sender)
    outcomes: list[SendOutcome] = []
    client, down = await _connect(settings)
    reconnects_left = 1
    try:
        for index, message in enumerate(messages):
            if client is None:
                assert down is not None
                outcomes.append(down)
                continue
            outcome, lost = await _send_one(client, settings, envelope_sender, message)
            outcomes.append(outcome)
            if lost:
                client.close()
                lost_outcome = SendOutcome(False, False, "not sent: connection lost", ours=True)
                client, down = None, lost_outcome
                if reconnects_left and index + 1 < len(messages):
                    reconnects_left -= 1
                    client, down = await _connect(settings)
    except BaseException:
        # Cancelled (or a bug): hang up at once rather than wait for a polite QUIT.
        if client is not None:
            client.close()
        raise
    if client is not None:
        await _quit(client)
    return outcomes


async def send_batches_parallel(
    settings: SmtpSettings, messages: Sequence[EmailMessage], *, connections: int = 4
) -> list[SendOutcome]:
    """Send ``messages`` over up to ``connections`` concurrent SMTP connections.

    Each connection takes a contiguous slice and behaves like :func:`send_batch`; outcomes
    come back in the order of ``messages``.
    """
    if connections < 1:
        raise ValueError("connections must be at least 1")
    count = min(connections, len(messages))
    if count <= 1:
        return await send_batch(settings, messages)
    size = -(-len(messages) // count)  # ceiling division
    slices = [messages[start : start + size] for start in range(0, len(messages), size)]
    results = await asyncio.gather(*(send_batch(settings, part) for part in slices))
    return [outcome for result in results for outcome in result]


@dataclass(frozen=True)
class SmtpTransport:
    """The SMTP :class:`~notifier.transport.Transport`: one connection per batch, and up to
    ``connections`` batches in parallel for a big queue (never fewer than
    :data:`MESSAGES_PER_CONNECTION` messages a connection: opening one costs more)."""

    settings: SmtpSettings
    connections: int = 4

    def __post_init__(self) -> None:
        if self.connections < 1:
            raise ValueError("connections must be at least 1")

    async def send(
        self, messages: Sequence[EmailMessage], *, connections: int | None = None
    ) -> list[SendOutcome]:
        """Send ``messages`` over at most ``connections`` (default: this transport's)
        connections; one outcome per message, in order. Never raises for a delivery problem."""
        if not messages:
            return []
        wanted = -(-len(messages) // MESSAGES_PER_CONNECTION)  # ceiling division
        count = max(1, min(connections or self.connections, wanted))
        return await send_batches_parallel(self.settings, messages, connections=count)


async def _connect(settings: SmtpSettings) -> tuple[aiosmtplib.SMTP | None, SendOutcome | None]:
    """Open, secure and log in; on failure return the outcome every waiting message gets."""
    client = aiosmtplib.SMTP(
        hostname=settings.host,
        port=settings.port,
        use_tls=settings.security == "tls",
        start_tls=settings.security == "starttls",
        validate_certs=settings.validate_certs,
        username=settings.username,
        password=settings.password,
        timeout=settings.timeout,
    )
    try:
        await client.connect()
    except Exception as exc:
        client.close()
        failure = classify_smtp_error(exc)
        # Whatever the reply, our server or session is at fault here, not the messages.
        detail = f"cannot connect: {failure.detail}"
        return None, SendOutcome(False, False, detail, failure.code, ours=True)
    return client, None


async def _send_one(
    client: aiosmtplib.SMTP, settings: SmtpSettings, envelope_sender: str, message: EmailMessage
) -> tuple[SendOutcome, bool]:
    """Send one message; return its outcome and whether the connection is lost."""
    try:
        recipients = [address_of(to) for to in message.to]
        if envelope_sender.isascii() and all(r.isascii() for r in recipients):
            raw = to_bytes(settings.sender, message)
            refused, _ = await client.sendmail(envelope_sender, recipients, raw)
        else:
            # A non-ASCII address needs SMTPUTF8, which send_message negotiates.
            refused, _ = await client.send_message(
                build_mime(settings.sender, message), sender=envelope_sender, recipients=recipients
            )
    except Exception as exc:
        return classify_smtp_error(exc), is_connection_lost(exc) or not client.is_connected
    if refused:
        # Accepted for some recipients: sending again would duplicate it for the others.
        codes = sorted({response.code for response in refused.values()})
        detail = f"accepted; refused for {len(refused)} of {len(message.to)} recipients: {codes}"
        return SendOutcome(True, False, detail), False
    return SendOutcome(True, False, "accepted", 250), False


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        await client.quit()
    except Exception:
        pass  # The messages are already sent; a rude goodbye changes nothing.
    finally:
        client.close()
