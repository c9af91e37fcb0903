"""Crafted input from outside (cursors, tokens, file names) gets a clear 4xx answer, never a
500, and never reaches storage or pages as given."""

from __future__ import annotations

import base64
import json

import pytest
from httpx import AsyncClient

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
