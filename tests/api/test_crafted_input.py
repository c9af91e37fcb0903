"""Crafted input from outside (cursors, tokens, file names) gets a clear 4xx answer, never a
500, and never reaches storage or pages as given."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from httpx import AsyncClient

from mailbox import clock
from mailbox.services import Services
from tests.factories import make_world, token_for


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


CRAFTED_CURSORS = {
    "deeply-nested": _cursor(b"[" * 10_000 + b"]" * 10_000),
    "time-overflows-utc": _cursor(json.dumps(["0001-01-01T00:00:00+05:00", "dlv_x"]).encode()),
    "huge-number": _cursor(json.dumps(["2026-01-01T00:00:00+00:00", 10**4000 - 1]).encode()),
    "number-as-time": _cursor(json.dumps([1e308, "dlv_x"]).encode()),
    "object": _cursor(json.dumps({"at": "2026-01-01T00:00:00+00:00"}).encode()),
    "three-parts": _cursor(json.dumps(["2026-01-01T00:00:00+00:00", "a", "b"]).encode()),
    "nul-in-id": _cursor(json.dumps(["2026-01-01T00:00:00+00:00", "dlv_\u0000"]).encode()),
    "bad-base64": "!!!not*base64",
    "not-utf8": _cursor(b"\xff\xfe[\x80]"),
}


@pytest.mark.parametrize("cursor", CRAFTED_CURSORS.values(), ids=CRAFTED_CURSORS.keys())
async def test_inbox_with_crafted_cursor_answers_422_problem(
    client: AsyncClient, services: Services, cursor: str
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.applicant)
    response = await client.get("/api/v1/inbox", params={"cursor": cursor}, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == "cursor"


def _signed_token(services: Services, subject: str, **overrides: object) -> str:
    """A token signed with the service's own token key, with ``overrides`` replacing (or, with
    the value ``None``, removing) the claims the service would issue."""
    issued = int(clock.now().timestamp())
    claims: dict[str, object] = {
        "sub": subject,
        "kind": "user",
        "aud": services.tokens.audience,
        "iss": services.tokens.issuer,
        "iat": issued,
        "exp": issued + 600,
    }
    claims.update(overrides)
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(
        claims, services.keys.token_key, algorithm="ES256", headers={"kid": services.keys.token_kid}
    )


MALFORMED_CLAIMS = {
    "exp-string": {"exp": "2099-01-01"},
    "exp-list": {"exp": [1]},
    "exp-bool": {"exp": True},
    "iat-string": {"iat": "yesterday"},
    "nbf-list": {"nbf": [1]},
    "nbf-string": {"nbf": "now"},
    "sub-number": {"sub": 12345},
    "sub-object": {"sub": {"id": "x"}},
    "sub-missing": {"sub": None},
    "kind-list": {"kind": ["client"]},
}


async def test_well_formed_token_is_accepted(client: AsyncClient, services: Services) -> None:
    world = await make_world(services)
    token = _signed_token(services, world.applicant.id)
    response = await client.get("/api/v1/inbox", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("overrides", MALFORMED_CLAIMS.values(), ids=MALFORMED_CLAIMS.keys())
async def test_token_with_malformed_claim_answers_401(
    client: AsyncClient, services: Services, overrides: dict[str, object]
) -> None:
    world = await make_world(services)
    token = _signed_token(services, world.applicant.id, **overrides)
    response = await client.get("/api/v1/inbox", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
