"""Bad dispatches get a clear problem response; nothing is stored; a dispatch that reached the
service leaves exactly one SubmissionRejection record and nothing else."""

from __future__ import annotations

import io

import pytest
from httpx import AsyncClient
from sqlmodel import func, select

from mailbox import clock
from mailbox.models import Delivery, Document, EvidenceRecord, OutboxMessage
from mailbox.services import Services
from tests.factories import make_world, post_dispatch, token_for


async def _counts(services: Services) -> dict[str, int]:
    async with services.db.session() as session:
        result = {}
        for model in (Document, Delivery, OutboxMessage, EvidenceRecord):
            result[model.__name__] = (
                await session.exec(select(func.count()).select_from(model))
            ).one()
        return result


def _blob_count(services: Services) -> int:
    return sum(1 for p in services.settings.effective_blob_dir.rglob("*") if p.is_file())


def _encrypted_pdf() -> bytes:
    from pyhanko.pdf_utils.crypt import StandardSecurityHandler
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    from mailbox.operations.demo import demo_pdf

    writer = IncrementalPdfFileWriter(io.BytesIO(demo_pdf("secret")))
    from pyhanko.pdf_utils.writer import copy_into_new_writer

    fresh = copy_into_new_writer(writer.prev)
    fresh.encrypt = None
    fresh._encrypt = None
    handler = StandardSecurityHandler.build_from_pw("owner", "user")
    fresh.security_handler = handler
    fresh._encrypt = fresh.add_object(handler.as_pdf_object())
    out = io.BytesIO()
    fresh.write(out)
    return out.getvalue()


def _deeply_nested_pdf(depth: int = 100_000) -> bytes:
    """A PDF whose catalog holds ``depth`` nested arrays: parsers that recurse run out of
    stack on it (it answered 500 with a 166 kB traceback in the log before)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /Deep " + b"[" * depth + b"]" * depth + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1))
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def _assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert {"type", "title", "status", "detail", "errors"} <= body.keys()
    assert body["status"] == status
    return body


@pytest.mark.parametrize(
    ("payload", "reason_fragment"),
    [
        (b"Hello, I am a text file, not a PDF.", "PDF"),
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage without xref", ""),
        (b"", "required"),
        (_deeply_nested_pdf(), "nested too deeply"),
    ],
    ids=["not-a-pdf", "malformed", "empty", "deeply-nested"],
)
async def test_dispatch_of_bad_file_is_refused_with_rejection_evidence(
    client: AsyncClient, services: Services, payload: bytes, reason_fragment: str
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    before = await _counts(services)
    response = await post_dispatch(client, headers, world.account.id, pdf=payload)
    body = _assert_problem(response, 422)
    assert body["errors"][0]["field"] == "file"
    explanation = " ".join([body["detail"], *(e["message"] for e in body["errors"])])
    assert reason_fragment.lower() in explanation.lower()
    after = await _counts(services)
    assert after["Document"] == before["Document"]
    assert after["Delivery"] == before["Delivery"]
    assert after["OutboxMessage"] == before["OutboxMessage"]
    assert after["EvidenceRecord"] == before["EvidenceRecord"] + 1
    assert _blob_count(services) == 0
    async with services.db.session() as session:
        record = (
            await session.exec(
                select(EvidenceRecord).where(EvidenceRecord.id == body["evidence_id"])
            )
        ).one()
    assert record.type == "SubmissionRejection"
    assert record.details["recipient_account_id"] == world.account.id


async def test_dispatch_of_encrypted_pdf_is_refused(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    response = await post_dispatch(client, headers, world.account.id, pdf=_encrypted_pdf())
    body = _assert_problem(response, 422)
    assert "encrypt" in body["detail"].lower()
    assert _blob_count(services) == 0


async def test_dispatch_over_the_size_limit_is_refused(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    limit = services.settings.upload_limit_bytes
    big = b"%PDF-1.7\n" + b"0" * (limit + 10)
    response = await post_dispatch(client, headers, world.account.id, pdf=big)
    body = _assert_problem(response, 413)
    assert str(limit) in body["detail"]
    assert (await _counts(services))["Delivery"] == 0
    assert _blob_count(services) == 0


async def test_dispatch_far_over_the_limit_is_cut_off_before_reading(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    huge = b"%PDF-1.7\n" + b"0" * (services.settings.upload_limit_bytes + 2 * 1024 * 1024)
    response = await post_dispatch(client, headers, world.account.id, pdf=huge)
    _assert_problem(response, 413)
    assert (await _counts(services))["Delivery"] == 0


async def test_dispatch_to_unknown_recipient_names_the_field(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    response = await post_dispatch(client, headers, "acc_doesnotexist")
    body = _assert_problem(response, 422)
    assert body["errors"] == [{"field": "recipient_account_id", "message": "no such account"}]
    assert body["evidence_id"]
    assert (await _counts(services))["Delivery"] == 0


async def test_dispatch_with_invalid_metadata_names_every_bad_field(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    response = await post_dispatch(
        client, headers, world.account.id, kind_code="R 71!", dossier_number="#?*", title="   "
    )
    body = _assert_problem(response, 422)
    assert {e["field"] for e in body["errors"]} == {"kind_code", "dossier_number", "title"}
    assert (await _counts(services))["Delivery"] == 0


async def test_dispatch_missing_metadata_names_every_missing_field(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    response = await client.post(
        "/api/v1/dispatches",
        headers=headers,
        files={"file": ("a.pdf", b"%PDF-1.7", "application/pdf")},
        data={"recipient_account_id": world.account.id},
    )
    body = _assert_problem(response, 422)
    assert {e["field"] for e in body["errors"]} == {"kind_code", "dossier_number", "title"}
    assert body["evidence_id"]
    assert (await _counts(services))["Delivery"] == 0


async def test_dispatch_without_file_or_form_is_refused(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    fields = {
        "recipient_account_id": world.account.id,
        "kind_code": "R71",
        "dossier_number": "EP1",
        "title": "t",
    }
    # Multipart parts without a file name: the metadata alone.
    no_file = await client.post(
        "/api/v1/dispatches",
        headers=headers,
        files={name: (None, value) for name, value in fields.items()},
    )
    assert no_file.status_code in (400, 422)
    assert no_file.headers["content-type"].startswith("application/problem+json")
    # A body that is not multipart at all is refused for its media type.
    url_encoded = await client.post("/api/v1/dispatches", headers=headers, data=fields)
    _assert_problem(url_encoded, 415)
    json_body = await client.post("/api/v1/dispatches", headers=headers, json={"title": "x"})
    _assert_problem(json_body, 415)
    assert (await _counts(services))["Delivery"] == 0


async def test_applicant_cannot_dispatch(client: AsyncClient, services: Services) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.applicant)
    response = await post_dispatch(client, headers, world.account.id)
    _assert_problem(response, 403)
    assert (await _counts(services))["EvidenceRecord"] == 0


async def test_expired_token_is_refused(client: AsyncClient, services: Services) -> None:
    from datetime import timedelta

    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    clock.set_offset(timedelta(seconds=services.settings.token_ttl_seconds + 1))
    response = await post_dispatch(client, headers, world.account.id)
    body = _assert_problem(response, 401)
    assert "expired" in body["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_missing_and_forged_tokens_are_refused(
    client: AsyncClient, services: Services
) -> None:
    _assert_problem(await client.get("/api/v1/inbox"), 401)
    _assert_problem(
        await client.get("/api/v1/inbox", headers={"Authorization": "Bearer abc.def.ghi"}), 401
    )
    _assert_problem(await client.get("/api/v1/inbox", headers={"Authorization": "Basic x"}), 401)


async def test_wrong_password_gets_invalid_grant(client: AsyncClient, services: Services) -> None:
    world = await make_world(services)
    response = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": world.applicant.email, "password": "nope"},
    )
    body = _assert_problem(response, 400)
    assert body["error"] == "invalid_grant"
