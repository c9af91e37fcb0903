"""A "pickup directory" transport for development and demonstrations: each email is written
as one ``.eml`` file instead of being sent over SMTP.

The file holds exactly what :func:`notifier.send_batch` would put on the wire, so a mail
client or ``python -m email`` tooling can open it. Files are written under a temporary name
and renamed, so a reader never sees half a message; the name derives from the Message-ID, so
writing the same message twice replaces the file instead of adding a duplicate.
:class:`PickupDirectory` is the :class:`~notifier.transport.Transport` built on
:func:`write_batch`.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from notifier.email import SmtpSettings
from notifier.failures import SendOutcome
from notifier.message import EmailMessage
from notifier.mime import to_bytes

__all__ = ["PickupDirectory", "file_name", "write_batch"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]")


@dataclass(frozen=True)
class PickupDirectory:
    """The pickup-directory :class:`~notifier.transport.Transport`: each email becomes one
    ``.eml`` file in ``directory``, written with ``settings.sender`` as its From."""

    directory: Path
    settings: SmtpSettings

    async def send(
        self, messages: Sequence[EmailMessage], *, connections: int | None = None
    ) -> list[SendOutcome]:
        """Write ``messages`` (``connections`` means nothing here); one outcome per message,
        in order. Never raises for a write problem."""
        return await write_batch(self.directory, self.settings, messages)


async def write_batch(
    directory: Path, settings: SmtpSettings, messages: Sequence[EmailMessage]
) -> list[SendOutcome]:
    """Write ``messages`` to ``directory`` as ``.eml`` files; one outcome per message, in order.

    A file that cannot be written (disk full, permissions) is a retryable failure and ours:
    our disk, not the message, is at fault. Never raises for a write problem.
    """
    if not messages:
        return []
    return await asyncio.to_thread(_write_all, Path(directory), settings, list(messages))


def file_name(message_id: str) -> str:
    """The file a message is written to: its Message-ID without brackets, made path-safe."""
    return _UNSAFE.sub("_", message_id.strip("<>")) + ".eml"


def _write_all(
    directory: Path, settings: SmtpSettings, messages: list[EmailMessage]
) -> list[SendOutcome]:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        detail = f"cannot create pickup directory: {exc.strerror}"
        failure = SendOutcome(False, False, detail, ours=True)
        return [failure] * len(messages)
    return [_write_one(directory, settings, message) for message in messages]


def _write_one(directory: Path, settings: SmtpSettings, message: EmailMessage) -> SendOutcome:
    try:
        raw = to_bytes(settings.sender, message)
    except ValueError:
        return SendOutcome(False, True, "invalid address or header")
    target = directory / file_name(message.message_id)
    partial = target.with_suffix(".eml.tmp")
    try:
        partial.write_bytes(raw)
        os.replace(partial, target)
    except OSError as exc:
        detail = f"cannot write to pickup directory: {exc.strerror}"
        return SendOutcome(False, False, detail, ours=True)
    return SendOutcome(True, False, "written to pickup directory")
