"""An email to send, already rendered: what every email transport takes.

It lives apart from the transports and from :mod:`notifier.mime` (its wire form) so that
each of them imports it and none imports another to get it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EmailMessage"]

# Headers the wire form writes itself (notifier.mime); extra headers may not repeat them.
_OWN_HEADERS = frozenset(
    {"message-id", "date", "from", "to", "subject", "auto-submitted", "mime-version"}
    | {"content-type", "content-transfer-encoding", "cc", "bcc"}
)


@dataclass(frozen=True)
class EmailMessage:
    """One email to send, already rendered.

    ``message_id`` is the full ``<local@domain>`` form, chosen by the caller and stable for an
    outbox message, so that a message sent twice after a lost reply is recognisable.
    ``headers`` adds headers such as ``List-Unsubscribe``; it may not repeat the ones the
    wire form writes itself (Message-ID, Date, From, To, Subject, the MIME headers...).
    """

    message_id: str
    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    headers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not self.to:
            raise ValueError("an email needs at least one recipient")
        mid = self.message_id
        if not (mid.startswith("<") and mid.endswith(">") and "@" in mid and " " not in mid):
            raise ValueError("message_id must have the form <local@domain>")
        for name, value in self.headers:
            if name.lower() in _OWN_HEADERS:
                raise ValueError(f"header {name!r} is written by the sender itself")
            _reject_line_breaks(name, value)
        _reject_line_breaks(mid, self.subject, *self.to)


def _reject_line_breaks(*values: str) -> None:
    for value in values:
        if "\r" in value or "\n" in value:
            raise ValueError("header values may not contain line breaks")
