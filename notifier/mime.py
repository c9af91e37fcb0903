"""The wire form of an email: multipart/alternative, a text part then an HTML part, both UTF-8
in base64, with RFC 2047 encoded words for non-ASCII header values.

:func:`build_mime` builds it with the standard library's ``email.mime`` classes (the reference);
:func:`to_bytes` writes the very same bytes as the standard generator would for that message
(``compat32`` policy), without building the object tree: header folding through ``Header``
objects and the generator cost three times more than sending the message. Only values that
need it (non-ASCII, or longer than a line) go through ``Header``, exactly as the generator
would take them. A unit test holds the two side by side.
"""

from __future__ import annotations

import email.base64mime
import email.utils
import hashlib
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from functools import lru_cache

from notifier.message import EmailMessage

__all__ = ["address_of", "build_mime", "encode_address", "to_bytes"]

_MAX_LINE = 78  # RFC 5322's recommended line length, the generator's folding width
_NL = "\n"  # the generator's line separator; SMTP's DATA turns it into CRLF


def boundary_for(message_id: str) -> str:
    """The multipart boundary of a message: both parts are base64, whose alphabet has no "_",
    so a boundary with one can never occur in them (and the generator need not search)."""
    return "=_mb_" + hashlib.sha256(message_id.encode()).hexdigest()[:24]


def build_mime(sender: str, message: EmailMessage, *, date: str | None = None) -> Message:
    """The message as a ``email.message.Message`` tree, built with ``email.mime``."""
    mime = MIMEMultipart("alternative", boundary=boundary_for(message.message_id))
    for name, value in _headers(sender, message, date):
        mime[name] = value
    mime.attach(MIMEText(message.text, "plain", "utf-8"))
    mime.attach(MIMEText(message.html, "html", "utf-8"))
    return mime


def to_bytes(sender: str, message: EmailMessage, *, date: str | None = None) -> bytes:
    """The bytes the standard generator writes for :func:`build_mime`'s message."""
    boundary = boundary_for(message.message_id)
    lines = [
        _fold("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
        "MIME-Version: 1.0\n",
    ]
    lines.extend(_fold(name, value) for name, value in _headers(sender, message, date))
    lines.append(_NL)
    lines.append(f"--{boundary}{_NL}")
    lines.append(_text_part("plain", message.text))
    lines.append(f"{_NL}--{boundary}{_NL}")
    lines.append(_text_part("html", message.html))
    lines.append(f"{_NL}--{boundary}--{_NL}")
    return "".join(lines).encode("ascii", "surrogateescape")


def _headers(
    sender: str, message: EmailMessage, date: str | None
) -> list[tuple[str, str | Header]]:
    headers: list[tuple[str, str | Header]] = [
        ("Message-ID", message.message_id),
        ("Date", date or email.utils.formatdate(usegmt=True)),
        ("From", encode_address(sender)),
        ("To", ", ".join(encode_address(to) for to in message.to)),
        ("Subject", _header_value(message.subject)),
        ("Auto-Submitted", "auto-generated"),
    ]
    headers.extend((name, _header_value(value)) for name, value in message.headers)
    return headers


def _text_part(subtype: str, text: str) -> str:
    body = email.base64mime.body_encode(text.encode("utf-8"))
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"{_NL}'
        f"MIME-Version: 1.0{_NL}"
        f"Content-Transfer-Encoding: base64{_NL}{_NL}"
        f"{body}"
    )


def _fold(name: str, value: str | Header) -> str:
    """One header line (or folded lines), as ``compat32`` folds it."""
    if isinstance(value, str):
        if len(name) + 2 + len(value) <= _MAX_LINE and _plain(value):
            return f"{name}: {value}{_NL}"
        value = Header(value, header_name=name)
    return f"{name}: {value.encode(linesep=_NL, maxlinelen=_MAX_LINE)}{_NL}"


def _plain(value: str) -> bool:
    # What Header would leave untouched: printable ASCII, single spaces, nothing to trim.
    return value.isascii() and value.isprintable() and "  " not in value and value.strip() == value


def _header_value(value: str) -> str | Header:
    # An ASCII value goes as it is (folded if long); anything else as RFC 2047 encoded words.
    return value if value.isascii() else Header(value, "utf-8")


@lru_cache(maxsize=4096)
def encode_address(value: str) -> str:
    """``Name <address>`` with a non-ASCII name encoded (RFC 2047), the address left alone."""
    name, address = email.utils.parseaddr(value)
    if not address:
        return value
    return email.utils.formataddr((name, address), charset="utf-8")


@lru_cache(maxsize=4096)
def address_of(value: str) -> str:
    """The bare address in ``Name <address>``, for the SMTP envelope."""
    _, address = email.utils.parseaddr(value)
    return address or value.strip()
