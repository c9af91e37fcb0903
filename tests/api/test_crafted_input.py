"""Crafted input from outside (cursors, tokens, file names) gets a clear 4xx answer, never a
500, and never reaches storage or pages as given."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import jwt
import pytest
from httpx import AsyncClient

from mailbox import clock
from mailbox.operations.demo import demo_pdf
from mailbox.services import Services
from tests.factories import make_world, post_dispatch, token_for


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


CRAFTED_NAME = "/home/x/../../evil\u202egpj.pdf\r\nX-Injected: 1" + "a" * 2000 + ".pdf"


@pytest.mark.parametrize(
    ("received", "kept"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("..\\..\\windows\\notice.pdf", "notice.pdf"),
        # The right-to-left override is gone, and a PDF is served under a name ending in .pdf:
        # it opens as a PDF, never as the program its name pretended to be.
        ("invoice\u202efdp.exe", "invoicefdp.exe.pdf"),
        ("line\r\nbreak.pdf", "linebreak.pdf"),
        ("dir/..", "document.pdf"),
        ("x" * 2000 + ".pdf", "x" * 196 + ".pdf"),
        (CRAFTED_NAME, "evilgpj.pdfX-Injected: 1" + "a" * 172 + ".pdf"),
    ],
    ids=["path", "windows-path", "rlo", "crlf", "dots", "long", "all-at-once"],
)
async def test_dispatched_file_name_is_kept_safe_and_evidence_has_the_original(
    client: AsyncClient, services: Services, received: str, kept: str
) -> None:
    world = await make_world(services)
    office = await token_for(client, world.dispatcher)
    created = await client.post(
        "/api/v1/dispatches",
        headers=office,
        files={"file": (received, demo_pdf("Name test"), "application/pdf")},
        data={
            "recipient_account_id": world.account.id,
            "kind_code": "R71",
            "dossier_number": "EP23123456.7",
            "title": "Name test",
        },
    )
    assert created.status_code == 201, created.text
    dispatched = created.json()
    acceptance = dispatched["timeline"][0]
    assert acceptance["type"] == "SubmissionAcceptance"
    if "\\" in received:  # the multipart encoding on the way doubles backslashes
        assert "filename_received" in acceptance["details"]
    else:
        assert acceptance["details"]["filename_received"] == received

    applicant = await token_for(client, world.applicant)
    download = await client.get(
        f"/api/v1/deliveries/{dispatched['id']}/document", headers=applicant
    )
    assert download.status_code == 200, download.text
    disposition = download.headers["content-disposition"]
    assert disposition == f"attachment; filename*=UTF-8''{quote(kept)}"
    assert len(kept) <= 200


async def test_plain_file_name_is_kept_as_sent(client: AsyncClient, services: Services) -> None:
    world = await make_world(services)
    created = await post_dispatch(
        client, await token_for(client, world.dispatcher), world.account.id
    )
    assert created.status_code == 201, created.text
    assert "filename_received" not in created.json()["timeline"][0]["details"]
    download = await client.get(
        f"/api/v1/deliveries/{created.json()['id']}/document",
        headers=await token_for(client, world.applicant),
    )
    assert download.headers["content-disposition"] == "attachment; filename*=UTF-8''notice.pdf"
