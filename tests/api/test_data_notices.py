"""Data documents: an office serves a national-phase entry notice as JSON instead of a PDF. It
is checked against its published schema, stored as canonical JSON, sealed with a detached
seal that verifies offline, evidenced like a PDF, and fetched by the recipient as JSON. Hostile
input (duplicate keys, deep nesting, floats, bad UTF-8, entity bombs, malformed XML, a type we
do not carry, a body over the limit) is a 4xx problem naming why, one SubmissionRejection
record, and nothing stored."""

from __future__ import annotations

import json

import pytest
from httpx import AsyncClient
from sqlmodel import func, select

from mailbox.models import Delivery, Document, EvidenceRecord
from mailbox.services import Services
from mailbox.signing.detached import canonical_json, validate_detached
from tests.factories import make_world, token_for
from tests.fixtures.db import both_backends

NOTICE = {
    "notice": "national-phase-entry/1",
    "international_application_number": "PCT/EP2026/012345",
    "designated_office": "JP",
    "national_application_number": "2026-501234",
    "entry_date": "2026-11-20",
    "status": "entered",
    "applicant_reference": "ACME-17",
}


async def _post_notice(client: AsyncClient, headers: dict[str, str], recipient: str, body: bytes):
    return await client.post(
        "/api/v1/dispatches",
        headers=headers,
        files={"file": ("notice.json", body, "application/json")},
        data={
            "recipient_account_id": recipient,
            "kind_code": "national-phase-entry",
            "dossier_number": "PCT/EP2026/012345",
            "title": "National-phase entry notice",
        },
    )


@both_backends
async def test_a_notice_is_sealed_stored_canonical_and_fetched_as_json(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    dispatcher = await token_for(client, world.dispatcher)
    sent = json.dumps(NOTICE, indent=2).encode()
    created = await _post_notice(client, dispatcher, world.account.id, sent)
    assert created.status_code == 201, created.text
    delivery_id = created.json()["id"]
    async with services.db.session() as session:
        delivery = await session.get(Delivery, delivery_id)
        document = await session.get(Document, delivery.document_id)
    assert document.media_type == "application/json"
    stored = services.blobs.get(document.sealed_sha256)
    assert stored == canonical_json(NOTICE)
    seal = services.blobs.get(document.seal_sha256)
    checked = validate_detached(stored, seal, trust_root=services.keys.root_cert)
    assert checked.ok, checked


async def test_a_notice_that_breaks_its_schema_is_refused_field_by_field(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    dispatcher = await token_for(client, world.dispatcher)
    bad = {**NOTICE, "international_application_number": "PCT/EP26/1", "status": "maybe"}
    del bad["national_application_number"]
    refused = await _post_notice(client, dispatcher, world.account.id, json.dumps(bad).encode())
    assert refused.status_code == 422, refused.text
    fields = {e["field"] for e in refused.json()["errors"]}
    assert {"international_application_number", "status"} <= fields


def _nested(depth: int) -> bytes:
    return b'{"notice": ' + b"[" * depth + b"]" * depth + b"}"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<notice>&lol9;</notice>
"""

# name, file name, content type, content, status, words the problem says (lower case).
HOSTILE = [
    (
        "duplicate keys",
        "notice.json",
        "application/json",
        b'{"status": "entered", "status": "refused"}',
        422,
        "appears twice",
    ),
    ("deep nesting", "notice.json", "application/json", _nested(10_000), 422, "nested deeper"),
    ("a float", "notice.json", "application/json", b'{"fee": 1.5}', 422, "fraction"),
    ("invalid UTF-8", "notice.json", "application/json", b'{"a": "\xff\xfe"}', 422, "utf-8"),
    ("billion laughs", "notice.xml", "application/xml", BILLION_LAUGHS, 422, "document type"),
    ("malformed XML", "notice.xml", "application/xml", b"<notice><a></notice>", 422, "xml"),
    ("text/plain", "notice.txt", "text/plain", b"status: entered", 422, "media_type"),
]


async def _rejections(services: Services) -> tuple[int, int]:
    async with services.db.session() as session:
        rejections = (
            await session.exec(
                select(func.count())
                .select_from(EvidenceRecord)
                .where(EvidenceRecord.type == "SubmissionRejection")
            )
        ).one()
        documents = (await session.exec(select(func.count()).select_from(Document))).one()
    return rejections, documents


@pytest.mark.parametrize(
    ("filename", "content_type", "content", "status", "says"),
    [case[1:] for case in HOSTILE],
    ids=[case[0] for case in HOSTILE],
)
async def test_a_hostile_data_document_is_refused_recorded_once_and_nothing_stored(
    client: AsyncClient,
    services: Services,
    filename: str,
    content_type: str,
    content: bytes,
    status: int,
    says: str,
) -> None:
    world = await make_world(services)
    dispatcher = await token_for(client, world.dispatcher)

    refused = await client.post(
        "/api/v1/dispatches",
        headers=dispatcher,
        files={"file": (filename, content, content_type)},
        data={
            "recipient_account_id": world.account.id,
            "kind_code": "R71",
            "dossier_number": "EP23123456.7",
            "title": "A hostile document",
        },
    )

    assert refused.status_code == status, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    said = (problem["detail"] + " " + json.dumps(problem["errors"])).lower()
    assert says in said, problem
    assert problem["evidence_id"]
    assert await _rejections(services) == (1, 0)


async def test_a_notice_over_the_upload_limit_is_refused_413_and_recorded(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    dispatcher = await token_for(client, world.dispatcher)
    limit = services.settings.upload_limit_bytes
    huge = json.dumps({**NOTICE, "applicant_reference": "x" * (limit + 10)}).encode()

    refused = await _post_notice(client, dispatcher, world.account.id, huge)

    assert refused.status_code == 413, refused.text
    assert str(limit) in refused.json()["detail"]
    assert await _rejections(services) == (1, 0)


async def test_a_valid_xml_document_is_stored_byte_for_byte_and_its_seal_verifies(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    dispatcher = await token_for(client, world.dispatcher)
    sent = b"<?xml version='1.0'?>\n<notice  status = 'entered' ><!-- as sent --><a>1</a></notice>"

    created = await client.post(
        "/api/v1/dispatches",
        headers=dispatcher,
        files={"file": ("notice.xml", sent, "text/xml")},
        data={
            "recipient_account_id": world.account.id,
            "kind_code": "R71",
            "dossier_number": "EP23123456.7",
            "title": "An XML document",
        },
    )

    assert created.status_code == 201, created.text
    async with services.db.session() as session:
        delivery = await session.get(Delivery, created.json()["id"])
        document = await session.get(Document, delivery.document_id)
    assert document.media_type == "application/xml"
    assert services.blobs.get(document.sealed_sha256) == sent
    seal = services.blobs.get(document.seal_sha256)
    assert validate_detached(sent, seal, trust_root=services.keys.root_cert).ok
