"""Authentication: password hashing (argon2) and short-lived access tokens (JWT, ES256, with a
``kid`` header, ``aud`` and ``exp``), signed by the service's token key and published as JWKS;
and the form token bound to one access token that web forms carry against cross-site requests.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mailbox.clock import now
from mailbox.errors import NotAuthenticated
from mailbox.signing.pki import KeyMaterial

__all__ = ["AccessToken", "TokenIssuer", "hash_password", "verify_password"]

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the timing of both cases alike.
_DUMMY_HASH = _hasher.hash("not a real password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; constant work whether or not the user exists."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int


_TOKEN_KINDS = ("user", "client")


def _is_time(value: object) -> bool:
    """A NumericDate: a finite number of seconds (``True`` is an int in Python, not a time)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_claim_types(claims: dict[str, Any]) -> None:
    """Refuse claims of the wrong type with :class:`NotAuthenticated`. PyJWT checks signature,
    audience and issuer, but not the type of the times it was told not to verify, nor ``sub``
    and ``kind``; a malformed token must fail as unauthenticated, not as a server error."""
    times = [claims["exp"], claims["iat"], *([claims["nbf"]] if "nbf" in claims else [])]
    times_ok = all(_is_time(value) for value in times)
    subject = claims.get("sub")
    if (
        not times_ok
        or not isinstance(subject, str)
        or not subject
        or claims.get("kind", "user") not in _TOKEN_KINDS
        or not isinstance(claims.get("scope", ""), str)
    ):
        raise NotAuthenticated("The access token has malformed claims")


class TokenIssuer:
    """Issues and checks access tokens. Key objects are parsed once, never per request."""

    algorithm = "ES256"

    def __init__(self, keys: KeyMaterial, *, audience: str, ttl_seconds: int, issuer: str) -> None:
        self._private = keys.token_key
        self._public = keys.token_key.public_key()
        self.kid = keys.token_kid
        self.audience = audience
        self.ttl = ttl_seconds
        self.issuer = issuer
        self._jwk = keys.token_public_jwk()
        # A separate key for form tokens, derived from the token key: stable across restarts
        # and processes of one install, and useless for signing anything else.
        self._form_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"mailbox web form token v1"
        ).derive(
            keys.token_key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    def issue(
        self, subject: str, *, kind: str = "user", epoch: int = 0, scope: str | None = None
    ) -> AccessToken:
        """A token for ``subject``, with its own ``jti`` (so that a log-out can end it); for
        a user, the ``epoch`` of the user's credentials (a password change ends the tokens of
        earlier epochs; see :mod:`mailbox.identity.sessions`); for a machine client, its
        ``scope`` (space-separated, RFC 6749 section 3.3)."""
        issued = now()
        claims: dict[str, Any] = {
            "sub": subject,
            "kind": kind,
            "aud": self.audience,
            "iss": self.issuer,
            "iat": int(issued.timestamp()),
            "exp": int((issued + timedelta(seconds=self.ttl)).timestamp()),
            "jti": secrets.token_urlsafe(16),
        }
        if kind == "user":
            claims["epoch"] = epoch
        if scope is not None:
            claims["scope"] = scope
        token = jwt.encode(
            claims, self._private, algorithm=self.algorithm, headers={"kid": self.kid}
        )
        return AccessToken(token, self.ttl)

    def decode(self, token: str) -> dict[str, Any]:
        """The token's claims; :class:`NotAuthenticated` if it is invalid, foreign or expired."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise NotAuthenticated("The access token is malformed") from None
        if header.get("kid") != self.kid:
            raise NotAuthenticated("The access token was not signed by a known key")
        try:
            # Expiry is checked against the service clock (which tests move), not PyJWT's.
            claims = jwt.decode(
                token,
                self._public,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "require": ["exp", "sub", "aud", "iat"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidTokenError as exc:
            raise NotAuthenticated(f"The access token is invalid: {exc}") from None
        except (TypeError, ValueError, OverflowError):
            # PyJWT converts some claims without checking their type first (an ``nbf`` list).
            raise NotAuthenticated("The access token has malformed claims") from None
        _check_claim_types(claims)
        if claims["exp"] <= now().timestamp():
            raise NotAuthenticated("The access token has expired; request a new one")
        return claims

    def derived_key(self, purpose: bytes) -> bytes:
        """A 32-byte secret key for ``purpose`` (e.g. signing a cookie), derived from the token
        key: the same in every process of one install, and different for each purpose."""
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
            self._private.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    def form_token(self, token: str) -> str:
        """The token that the forms of the session holding access token ``token`` carry: an
        HMAC of it that only this service computes. Another site knows neither, so it cannot
        forge a form post; a new login gives a new one."""
        return hmac.new(self._form_key, token.encode(), hashlib.sha256).hexdigest()

    def form_token_matches(self, token: str, submitted: str) -> bool:
        """True when ``submitted`` is :meth:`form_token` of ``token`` (compared in constant
        time)."""
        # Bytes, not str: compare_digest refuses non-ASCII text, which a forged post may carry.
        return hmac.compare_digest(self.form_token(token).encode(), submitted.encode())

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self._jwk]}
