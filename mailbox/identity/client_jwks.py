"""Public keys a machine client publishes itself, at its JWKS URL (a JWK Set, RFC 7517), so
that it rolls its keys over without telling us: fetched with httpx, kept in this process for a
while, fetched again when an assertion names a key (``kid``) not yet seen, but never more
often than a floor allows, so that assertions with made-up ``kid`` values cannot make the
service hammer the client's server (or anyone's).

The URL must be https:// and its host public: the same rule as webhook targets
(:mod:`notifier.targets`), checked when the client is registered and again on every
connection, since the service connects to an address a client chose. A test setting
(``MAILBOX_CLIENT_JWKS_ALLOW_PRIVATE``) allows http:// and loopback or private hosts.

The cache is per process and holds only what any process fetches again: nothing another
instance needs.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from mailbox.errors import FieldError, InvalidRequest, NotAuthenticated
from notifier.targets import host_problem, public_only_transport

__all__ = ["MAX_JWKS_BYTES", "JwksCache", "check_jwks_url"]

MAX_JWKS_BYTES = 64 * 1024
MAX_URL_LENGTH = 2000
# Keys fetched are used for this long before they are fetched again unasked.
MAX_AGE_SECONDS = 300.0


def check_jwks_url(url: str, *, allow_private: bool) -> str:
    """``url`` if it may be a client's JWKS URL: https:// (http:// too with ``allow_private``)
    to a public host, without credentials or fragment; else :class:`InvalidRequest` naming
    ``jwks_url``."""

    def refuse(why: str) -> InvalidRequest:
        return InvalidRequest(
            f"The JWKS URL {why}", errors=[FieldError("jwks_url", f"the URL {why}")]
        )

    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise refuse(f"is longer than {MAX_URL_LENGTH} characters")
    parts = urlsplit(url)
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise refuse("must be an https:// URL")
    if parts.username or parts.password or parts.fragment:
        raise refuse("may not carry credentials or a #fragment")
    problem = None if allow_private else host_problem(parts.hostname)
    if problem is not None:
        raise refuse(problem)
    return url


@dataclass
class _Entry:
    keys: list[dict[str, Any]]
    fetched_at: float  # monotonic


@dataclass
class JwksCache:
    """The JWK Sets of clients' JWKS URLs, fetched on demand and kept for a while."""

    allow_private: bool = False
    refresh_floor_seconds: float = 60.0
    timeout_seconds: float = 5.0
    _entries: dict[str, _Entry] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def fetch(self, url: str) -> list[dict[str, Any]]:
        """The keys published at ``url`` now (and remembered); :class:`InvalidRequest` naming
        ``jwks_url`` when they cannot be fetched or are not a JWK Set with a usable key."""
        url = check_jwks_url(url, allow_private=self.allow_private)
        try:
            async with httpx.AsyncClient(
                transport=public_only_transport(allow_private=self.allow_private),
                timeout=self.timeout_seconds,
                follow_redirects=False,
            ) as client:
                response = await client.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise _unusable(f"could not be fetched ({type(exc).__name__}: {exc})") from None
        if response.status_code != 200:
            raise _unusable(f"answered {response.status_code}, not 200")
        if len(response.content) > MAX_JWKS_BYTES:
            raise _unusable(f"answered more than {MAX_JWKS_BYTES} bytes")
        keys = _usable_keys(response.content)
        self._entries[url] = _Entry(keys, time.monotonic())
        return keys

    async def keys(self, url: str, *, kid: str | None) -> list[dict[str, Any]]:
        """The keys of ``url`` an assertion with header ``kid`` may be checked with: from the
        cache while fresh and holding ``kid``; fetched again when stale, or when ``kid`` is not
        among them and the last fetch is older than the floor. :class:`NotAuthenticated` when
        they cannot be had."""
        lock = self._locks.setdefault(url, asyncio.Lock())
        async with lock:  # one fetch at a time per URL, however many assertions arrive
            entry = self._entries.get(url)
            age = None if entry is None else time.monotonic() - entry.fetched_at
            known = entry is not None and (
                kid is None or any(k.get("kid") == kid for k in entry.keys)
            )
            stale = age is None or age > MAX_AGE_SECONDS
            may_refresh = age is None or age >= self.refresh_floor_seconds
            if stale or (not known and may_refresh):
                try:
                    return await self.fetch(url)
                except InvalidRequest as exc:
                    if entry is None or stale:
                        raise NotAuthenticated(f"The client's {exc.detail[4:]}") from None
            assert entry is not None
            return entry.keys


def _unusable(why: str) -> InvalidRequest:
    return InvalidRequest(
        f"The JWKS URL {why}", errors=[FieldError("jwks_url", f"the key set {why}")]
    )


def _usable_keys(body: bytes) -> list[dict[str, Any]]:
    """The public EC and RSA signing keys of a JWK Set document."""
    try:
        document = json.loads(body)
    except ValueError:
        raise _unusable("did not answer JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise _unusable('did not answer a JWK Set ({"keys": [...]})')
    keys = [
        key
        for key in document["keys"]
        if isinstance(key, dict)
        and key.get("kty") in ("EC", "RSA")
        and key.get("use", "sig") == "sig"
        and "d" not in key  # a private key published by mistake is never used
    ]
    if not keys:
        raise _unusable("holds no public EC or RSA signing key")
    return keys
