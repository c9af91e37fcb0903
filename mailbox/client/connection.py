"""One authenticated HTTP connection to the service: a ``private_key_jwt`` client assertion
(RFC 7523) signed with the client's key file buys an access token, renewed before it expires
and once more after a 401."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

__all__ = ["ClientError", "Connection", "load_private_key"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Renew the access token this long before the service says it expires.
RENEW_MARGIN = 30.0


class ClientError(Exception):
    """What went wrong, in words for the person running the client."""


def load_private_key(path: Path) -> tuple[Any, str]:
    """The private key in the PEM file ``path`` and the JWS algorithm that goes with it."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise ClientError(f"Cannot read the key file {path}: {exc.strerror}") from None
    except (ValueError, TypeError) as exc:
        raise ClientError(f"{path} is not an unencrypted PEM private key ({exc})") from None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key, {256: "ES256", 384: "ES384"}.get(key.curve.key_size, "ES256")
    if isinstance(key, rsa.RSAPrivateKey):
        return key, "PS256"
    raise ClientError(f"{path}: only EC and RSA keys can sign a client assertion")


def problem_text(response: httpx.Response) -> str:
    """The problem details' title and detail of an error answer, or its status line."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if not isinstance(body, Mapping):
        return f"HTTP {response.status_code}"
    parts = [str(body.get(k)) for k in ("title", "detail") if body.get(k)]
    errors = body.get("errors")
    if isinstance(errors, list):
        parts += [f"{e.get('field', '')}: {e.get('message', '')}" for e in errors[:5] if e]
    return f"HTTP {response.status_code}: " + " - ".join(parts)


@dataclass
class Connection:
    """The service at ``base_url``, as the machine client ``client_id``."""

    base_url: str
    client_id: str
    key_file: Path
    timeout: float = 60.0
    _http: httpx.Client = field(init=False, repr=False)
    _token: str | None = field(default=None, init=False, repr=False)
    _token_until: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self._key, self._algorithm = load_private_key(self.key_file)
        self._http = httpx.Client(base_url=self.base_url, timeout=self.timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _assertion(self) -> str:
        moment = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": f"{self.base_url}/api/v1/auth/token",
            "iat": moment,
            "exp": moment + 120,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm=self._algorithm)

    def token(self, *, renew: bool = False) -> str:
        """A valid access token, fetched anew when missing, expiring or ``renew``."""
        if not renew and self._token is not None and time.monotonic() < self._token_until:
            return self._token
        try:
            response = self._http.post(
                "/api/v1/auth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_assertion_type": ASSERTION_TYPE,
                    "client_assertion": self._assertion(),
                },
            )
        except httpx.HTTPError as exc:
            raise ClientError(f"Cannot reach {self.base_url}: {exc}") from None
        if response.status_code != 200:
            raise ClientError(f"The service refused a token: {problem_text(response)}")
        body = response.json()
        self._token = str(body["access_token"])
        lifetime = float(body.get("expires_in", 300))
        self._token_until = time.monotonic() + max(lifetime - RENEW_MARGIN, 1.0)
        return self._token

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """``method path`` with the token; after a 401, once more with a new token."""
        for attempt in (0, 1):
            headers = dict(kwargs.pop("headers", None) or {})
            headers["Authorization"] = f"Bearer {self.token(renew=attempt == 1)}"
            try:
                response = self._http.request(method, path, headers=headers, **kwargs)
            except httpx.HTTPError as exc:
                raise ClientError(f"{method} {path} failed: {exc}") from None
            if response.status_code != 401:
                return response
            kwargs["headers"] = headers
        return response
