"""Small signed values that a browser keeps for us (the half-finished log-in of a second-factor
step, a remembered device): a JSON payload, an expiry and an HMAC-SHA256 over both and the
value's purpose, so that a value made for one purpose is never accepted for another, and
nobody without the service's key can make or alter one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

from mailbox.clock import now

__all__ = ["SignedValues"]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SignedValues:
    """Makes and reads values signed with ``key`` (32 secret bytes)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, purpose: str, body: str) -> str:
        return hmac.new(self._key, f"{purpose}.{body}".encode(), hashlib.sha256).hexdigest()

    def make(self, purpose: str, payload: dict[str, Any], *, lifetime: timedelta) -> str:
        """A value holding ``payload`` for ``purpose``, good for ``lifetime``."""
        expires = int((now() + lifetime).timestamp())
        body = _b64(json.dumps({**payload, "exp": expires}, separators=(",", ":")).encode())
        return f"{body}.{self._mac(purpose, body)}"

    def read(self, purpose: str, value: str | None) -> dict[str, Any] | None:
        """The payload of ``value`` if we made it for ``purpose`` and it has not expired;
        ``None`` for anything else (missing, altered, foreign, expired, malformed)."""
        if not value or value.count(".") != 1:
            return None
        body, mac = value.split(".")
        if not hmac.compare_digest(self._mac(purpose, body).encode(), mac.encode()):
            return None
        try:
            payload = json.loads(_unb64(body))
        except ValueError:
            return None
        expires = payload.get("exp") if isinstance(payload, dict) else None
        if not isinstance(expires, int) or expires <= now().timestamp():
            return None
        return payload
