"""Hostile PDFs over the API: active content (JavaScript, launch actions, embedded files) and
existing signatures that cannot be read are refused with a 422 naming what was found, one
SubmissionRejection record that keeps the finding, one bounded log line, and nothing stored.
An office whose policy allows active content gets it sealed, with the finding on record."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from httpx import AsyncClient
from sqlmodel import func, select

from mailbox.identity.admin import set_active_content_policy
from mailbox.models import Delivery, Document, EvidenceRecord, Office, OutboxMessage
from mailbox.services import Services
from tests.factories import World, make_world, post_dispatch, token_for
from tests.fixtures import hostile
from tests.fixtures.db import both_backends


async def _counts(services: Services) -> dict[str, int]:
    async with services.db.session() as session:
        return {
            model.__name__: (await session.exec(select(func.count()).select_from(model))).one()
            for model in (Document, Delivery, OutboxMessage, EvidenceRecord)
        }


def _blob_count(services: Services) -> int:
    return sum(1 for p in services.settings.effective_blob_dir.rglob("*") if p.is_file())


async def _record(services: Services, evidence_id: str) -> EvidenceRecord:
    async with services.db.session() as session:
        return (
            await session.exec(select(EvidenceRecord).where(EvidenceRecord.id == evidence_id))
        ).one()


async def _set_policy(services: Services, world: World, policy: str) -> None:
    async with services.db.write() as session:
        await set_active_content_policy(
            session=session, office=world.office.code, active_content=policy
        )


async def _assert_refused_and_nothing_stored(
    services: Services, response, before: dict[str, int]
) -> tuple[dict, EvidenceRecord]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == "/problems/invalid-document"
    assert body["errors"][0]["field"] == "file"
    after = await _counts(services)
    assert after == {**before, "EvidenceRecord": before["EvidenceRecord"] + 1}
    assert _blob_count(services) == 0
    record = await _record(services, body["evidence_id"])
    assert record.type == "SubmissionRejection"
    assert record.delivery_id is None
    return body, record


ACTIVE = {
    "javascript-open-action": (
        hostile.javascript_open_action,
        "JavaScript (OpenAction)",
        "javascript",
    ),
    "javascript-names-tree": (
        hostile.javascript_names_tree,
        "JavaScript (Names tree)",
        "javascript",
    ),
    "launch-action": (hostile.launch_action, "a Launch action (annotation)", "launch"),
    "embedded-file": (
        hostile.embedded_file,
        "an embedded file (EmbeddedFiles: invoice.exe)",
        "embedded_file",
    ),
    "file-attachment": (
        hostile.file_attachment_annotation,
        "an embedded file (annotation: macro.docm)",
        "embedded_file",
    ),
}


@pytest.mark.parametrize(("build", "named", "kind"), ACTIVE.values(), ids=ACTIVE.keys())
async def test_dispatch_with_active_content_is_refused_naming_what_was_found(
    client: AsyncClient,
    services: Services,
    caplog: pytest.LogCaptureFixture,
    build: Callable[[], bytes],
    named: str,
    kind: str,
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    before = await _counts(services)

    with caplog.at_level(logging.INFO, logger="mailbox.deliveries"):
        response = await post_dispatch(client, headers, world.account.id, pdf=build())

    body, record = await _assert_refused_and_nothing_stored(services, response, before)
    assert body["detail"].startswith(f"The PDF contains {named}; ")
    assert "does not accept active content" in body["detail"]
    assert record.details["document_reason"] == "active_content"
    assert record.details["reason"] == body["detail"]
    found = record.details["active_content"]
    assert found["complete"] is True
    assert [item["kind"] for item in found["found"]] == [kind]
    refusals = [r for r in caplog.records if r.name == "mailbox.deliveries.dispatch"]
    assert len(refusals) == 1
    assert len(refusals[0].getMessage()) < 600
    assert "\n" not in refusals[0].getMessage()


async def test_dispatch_names_every_kind_found_in_one_sentence(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)

    response = await post_dispatch(
        client, headers, world.account.id, pdf=hostile.javascript_and_embedded_file()
    )

    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(
        "The PDF contains JavaScript (OpenAction) and an embedded file "
        "(EmbeddedFiles: update.exe); "
    )


BROKEN = {
    "unparseable-signature-field": hostile.unparseable_signature_field,
    "garbage-signature-contents": hostile.garbage_signature_contents,
    # One of the structures pyHanko's signer tripped over (the unit tests seal them all).
    "field-is-a-number": hostile.BROKEN_STRUCTURES["field-is-a-number"],
}


@pytest.mark.parametrize("build", BROKEN.values(), ids=BROKEN.keys())
async def test_dispatch_of_a_pdf_that_cannot_be_read_or_sealed_is_refused(
    client: AsyncClient,
    services: Services,
    caplog: pytest.LogCaptureFixture,
    build: Callable[[], bytes],
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    before = await _counts(services)

    with caplog.at_level(logging.INFO):
        response = await post_dispatch(client, headers, world.account.id, pdf=build())

    body, record = await _assert_refused_and_nothing_stored(services, response, before)
    assert body["detail"].startswith(
        ("An existing signature in the PDF cannot be read", "The PDF could not be")
    )
    assert len(body["detail"]) < 500
    assert record.details["document_reason"] == "malformed"
    # No traceback anywhere: one bounded line for the refusal, nothing logged as an error.
    assert all(r.exc_info is None and r.levelno < logging.ERROR for r in caplog.records)
    refusals = [r for r in caplog.records if r.name == "mailbox.deliveries.dispatch"]
    assert len(refusals) == 1
    assert len(refusals[0].getMessage()) < 600


@both_backends
async def test_office_allowing_active_content_gets_it_sealed_and_on_record(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    await _set_policy(services, world, "allow")
    headers = await token_for(client, world.dispatcher)

    response = await post_dispatch(
        client, headers, world.account.id, pdf=hostile.javascript_open_action()
    )

    assert response.status_code == 201, response.text
    timeline = response.json()["timeline"]
    accepted = await _record(services, timeline[0]["id"])
    assert accepted.type == "SubmissionAcceptance"
    assert accepted.details["active_content"] == {
        "found": [{"kind": "javascript", "places": ["OpenAction"]}],
        "complete": True,
    }


async def test_office_allowing_active_content_still_refuses_unreadable_signatures(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    await _set_policy(services, world, "allow")
    headers = await token_for(client, world.dispatcher)

    response = await post_dispatch(
        client, headers, world.account.id, pdf=hostile.garbage_signature_contents()
    )

    assert response.status_code == 422, response.text
    assert "existing signature" in response.json()["detail"]


async def test_plain_dispatch_records_no_active_content(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)

    response = await post_dispatch(client, headers, world.account.id)

    assert response.status_code == 201, response.text
    accepted = await _record(services, response.json()["timeline"][0]["id"])
    assert "active_content" not in accepted.details


async def test_new_offices_reject_active_content(services: Services) -> None:
    world = await make_world(services)
    async with services.db.session() as session:
        office = await session.get(Office, world.office.id)
    assert office is not None and office.active_content == "reject"
