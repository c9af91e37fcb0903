"""Signed webhook delivery: sign, verify, post, and classify the answer.

The signature header reads ``t=<unix seconds>,v1=<hex HMAC-SHA256>``, computed over
``f"{t}."`` followed by the exact body bytes, with the subscriber's shared secret. The
timestamp is inside the MAC so that a captured request cannot be replayed later than the
receiver's tolerance.
"""

from __future__ import annotations

import hashlib
import hmac

import httpx

from notifier.failures import SendOutcome, classify_http_status
from notifier.targets import TargetNotAllowed

__all__ = [
    "EVENT_ID_HEADER",
    "EVENT_TYPE_HEADER",
    "SIGNATURE_HEADER",
    "TARGET_NOT_ALLOWED",
    "post_webhook",
    "sign_payload",
    "verify_signature",
]

SIGNATURE_HEADER = "Mailbox-Signature"
EVENT_ID_HEADER = "Mailbox-Event-Id"
EVENT_TYPE_HEADER = "Mailbox-Event-Type"

# All a subscriber learns when its host resolves to an address that is not public: more
# (which address, why) would make the attempts list a map of our network.
TARGET_NOT_ALLOWED = "target address not allowed"
# Used only when the caller's client has no timeout at all: a post must never hang a worker.
_FALLBACK_TIMEOUT = httpx.Timeout(10.0)


def sign_payload(secret: str, timestamp: int, body: bytes) -> str:
    """Return the signature header value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify_signature(
    secret: str, header: str, body: bytes, *, now: int, tolerance: int = 300
) -> bool:
    """Say whether ``header`` signs ``body`` with ``secret``, at most ``tolerance`` s from ``now``.

    Several ``v1`` values are accepted (one per secret during a rotation). A malformed header
    is simply not valid; this function never raises for bad input.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates or abs(now - timestamp) > tolerance:
        return False
    expected = _mac(secret, timestamp, body)
    # Compare every candidate so the time taken does not say which one matched.
    matches = [hmac.compare_digest(expected, candidate) for candidate in candidates]
    return any(matches)


async def post_webhook(
    client: httpx.AsyncClient,
    url: str,
    secret: str,
    body: bytes,
    *,
    event_id: str,
    event_type: str,
    timestamp: int,
) -> SendOutcome:
    """POST a signed JSON ``body`` to ``url`` and classify what happened.

    2xx is success; 408, 429, 5xx, timeouts and connection errors are retryable; other
    statuses are permanent (410 Gone: the subscriber removed the endpoint). None is ours: a
    receiver that refuses the connection or does not answer is the receiver's endpoint down,
    and from here our network cannot be told apart from theirs, so every failure counts.
    A host that resolves to an address that is not public (the client's transport is
    :func:`notifier.targets.public_only_transport`) is a permanent failure of the target,
    reported only as :data:`TARGET_NOT_ALLOWED`. Redirects are not followed. The response
    body is never read. The time allowed is the client's timeout. Never raises for a delivery
    problem.
    """
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign_payload(secret, timestamp, body),
        EVENT_ID_HEADER: event_id,
        EVENT_TYPE_HEADER: event_type,
    }
    timeout = _FALLBACK_TIMEOUT if _unbounded(client.timeout) else httpx.USE_CLIENT_DEFAULT
    try:
        async with client.stream(
            "POST", url, content=body, headers=headers, follow_redirects=False, timeout=timeout
        ) as response:
            status = response.status_code
    except httpx.TimeoutException:
        return SendOutcome(False, False, "timeout")
    except httpx.ConnectError as exc:
        if isinstance(exc.__cause__, TargetNotAllowed):
            return SendOutcome(False, True, TARGET_NOT_ALLOWED)
        return SendOutcome(False, False, f"connection error: {type(exc).__name__}")
    except httpx.UnsupportedProtocol:
        return SendOutcome(False, True, "unsupported URL scheme")
    except httpx.TransportError as exc:
        return SendOutcome(False, False, f"connection error: {type(exc).__name__}")
    except httpx.InvalidURL:
        return SendOutcome(False, True, "invalid URL")
    return classify_http_status(status)


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def _unbounded(timeout: httpx.Timeout) -> bool:
    return None in (timeout.connect, timeout.read, timeout.write)
