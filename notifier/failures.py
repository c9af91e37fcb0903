"""What happened to one send, whose fault a failure is, and whether trying again can help.

Every transport (SMTP, the pickup directory, webhooks) reports a :class:`SendOutcome`. The rule
that decides for SMTP lives here and nowhere else; the webhook rule is
:func:`classify_http_status`. A failure is one of three:

- **ours** (``ours=True``): our mail server, our session or our disk failed (cannot connect,
  timeout, connection lost, TLS, authentication, greeting refused, 421 closing, a reply about
  our session or our envelope sender, a pickup directory that cannot be written). The message
  and its recipient are not at fault: it must wait, and never count against the recipient;
- **the recipient's, permanent**: a 5xx answer about the recipient's address or the message
  (an unknown mailbox, a refused message, a webhook endpoint that is gone): retrying cannot
  help, and the caller may fall back to paper;
- **the recipient's, retryable**: a 4xx answer about the recipient or the message; it counts
  toward the message's retry budget.

Webhook failures are never ours: a receiver that refuses connections or times out is the
receiver's endpoint being down, and from here we cannot tell our network from theirs.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosmtplib

__all__ = [
    "SendOutcome",
    "classify_http_status",
    "classify_smtp_error",
    "is_connection_lost",
]

# RFC 4954: authentication required / too weak / failed / encryption required. They come back
# on MAIL FROM with a 5xx code but are about our session, not about the message.
_SESSION_CODES = frozenset({530, 534, 535, 538})
# RFC 5321 4.2.2: 421 means the server is closing the channel.
_CLOSING_CODE = 421
_MAX_SERVER_TEXT = 100


@dataclass(frozen=True)
class SendOutcome:
    """The result of sending one message (an email or a webhook event).

    ``ok`` is True when the peer accepted it. When not ok, ``permanent`` says that retrying
    the same send cannot help, and ``ours`` that the failure is on our side (our mail server,
    session or disk), not the recipient's: such a failure must never count against the
    recipient, even when it is permanent until an operator steps in (a refused sender).
    ``detail`` is short and safe to log (no credentials, no content); ``code`` is the SMTP
    reply code or HTTP status when there was one.
    """

    ok: bool
    permanent: bool
    detail: str
    code: int | None = None
    ours: bool = False

    def __post_init__(self) -> None:
        if self.ok and (self.permanent or self.ours):
            raise ValueError("a successful send is neither permanent nor anyone's fault")


def classify_smtp_error(exc: BaseException) -> SendOutcome:
    """Turn an exception raised while sending one email into a failed :class:`SendOutcome`.

    A 5xx reply to a recipient or the message data is permanent and the recipient's; a 4xx
    reply to them is retryable and the recipient's. Ours (see the module docstring), whatever
    the code: timeouts, lost connections, TLS, session-level refusals (greeting, EHLO,
    authentication, 421 closing, the RFC 4954 codes) and a refused envelope sender (ours to
    configure; a 5xx there stays permanent, so that an operator is needed). An address or header
    that cannot be put on the wire is permanent. Unknown errors are retryable and counted, so
    that a retry budget, not a guess, ends them.
    """
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [refusal.code for refusal in exc.recipients]
        ours = bool(codes) and all(_is_session_code(code) for code in codes)
        permanent = bool(codes) and all(_is_permanent_code(code) for code in codes)
        first = exc.recipients[0] if exc.recipients else None
        code = first.code if first else None
        text = _server_text(first.message) if first else ""
        detail = f"recipient refused: {code} {text}".rstrip()
        return SendOutcome(False, permanent, detail, code, ours=ours)
    if isinstance(
        exc,
        aiosmtplib.SMTPAuthenticationError
        | aiosmtplib.SMTPHeloError
        | aiosmtplib.SMTPConnectResponseError,
    ):
        # The server's text after a failed login can echo what we sent: leave it out.
        return SendOutcome(False, False, f"{_stage(exc)} refused: {exc.code}", exc.code, ours=True)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        permanent = _is_permanent_code(exc.code)
        ours = _is_session_code(exc.code) or isinstance(exc, aiosmtplib.SMTPSenderRefused)
        detail = f"{_stage(exc)} refused: {exc.code} {_server_text(exc.message)}".rstrip()
        return SendOutcome(False, permanent, detail, exc.code, ours=ours)
    if isinstance(exc, TimeoutError):  # includes aiosmtplib.SMTPTimeoutError
        return SendOutcome(False, False, "timeout", ours=True)
    if isinstance(exc, ConnectionError | OSError):  # SMTPServerDisconnected, ssl.SSLError
        return SendOutcome(False, False, f"connection error: {type(exc).__name__}", ours=True)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        # Raised per message for an address the server cannot take (non-ASCII, no SMTPUTF8).
        return SendOutcome(False, True, "not supported by the server")
    if isinstance(exc, ValueError):
        # An address or header value that cannot be sent safely; the text may echo it.
        return SendOutcome(False, True, "invalid address or header")
    return SendOutcome(False, False, f"unexpected error: {type(exc).__name__}")


def is_connection_lost(exc: BaseException) -> bool:
    """Say whether, after ``exc``, the SMTP connection can no longer be used."""
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return exc.code == _CLOSING_CODE
    return isinstance(exc, TimeoutError | ConnectionError | OSError)


def classify_http_status(status: int) -> SendOutcome:
    """Classify a webhook endpoint's answer by its HTTP status.

    2xx is success. 408 and 429 ask us to come back later and 5xx is the endpoint's own trouble:
    retryable. Any other 4xx (410 Gone above all) will not change by retrying: permanent.
    Redirects are not followed, since the body is signed for the registered URL: a 3xx means
    the endpoint must be re-registered, so it is permanent too.
    """
    detail = f"HTTP {status}"
    if 200 <= status < 300:
        return SendOutcome(True, False, detail, status)
    if status in (408, 429) or status >= 500:
        return SendOutcome(False, False, detail, status)
    return SendOutcome(False, True, detail, status)


def _is_permanent_code(code: int) -> bool:
    return 500 <= code < 600 and code not in _SESSION_CODES


def _is_session_code(code: int) -> bool:
    """A reply about our session (closing, authentication), not about a recipient."""
    return code == _CLOSING_CODE or code in _SESSION_CODES


def _stage(exc: aiosmtplib.SMTPResponseException) -> str:
    match exc:
        case aiosmtplib.SMTPSenderRefused():
            return "sender"
        case aiosmtplib.SMTPRecipientRefused():
            return "recipient"
        case aiosmtplib.SMTPDataError():
            return "message"
        case aiosmtplib.SMTPAuthenticationError():
            return "login"
        case aiosmtplib.SMTPHeloError():
            return "greeting"
        case aiosmtplib.SMTPConnectResponseError():
            return "connection"
        case _:
            return "command"


def _server_text(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line[:_MAX_SERVER_TEXT]
