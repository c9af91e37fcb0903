"""Data documents: an office serves a national-phase entry notice as JSON instead of a PDF. It
is checked against its published schema, stored as canonical JSON, sealed with a detached
seal that verifies offline, evidenced like a PDF, and fetched by the recipient as JSON."""

from __future__ import annotations

import json

from httpx import AsyncClient

from mailbox.models import Delivery, Document
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
