"""A dispatch refused because our blob store is full (507) or cannot be written (503) answers
that fault with Retry-After, and leaves nothing: no delivery, no document, no evidence record
(it is not the sender's refusal), no outbox row, no file; once the disk is back the same
request is served."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from httpx import AsyncClient

from mailbox.services import Services
from mailbox.storage.blobs import LocalBlobStore, load_master_key
from tests.api.test_dispatch_refusals import _counts
from tests.factories import make_world, post_dispatch, token_for
from tests.fixtures.filesystems import broken_disk

NOTHING = {"Document": 0, "Delivery": 0, "OutboxMessage": 0, "EvidenceRecord": 0}


@pytest.mark.parametrize(
    ("kind", "status", "problem"),
    [("full", 507, "/problems/storage-full"), ("read-only", 503, "/problems/storage-unavailable")],
)
@pytest.mark.parametrize("fault", ["tmpfs", "injected"])
async def test_dispatch_to_a_broken_blob_store_answers_the_fault_and_leaves_nothing(
    client: AsyncClient,
    services: Services,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    fault: str,
    kind: str,
    status: int,
    problem: str,
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    before = await _counts(services)
    key = load_master_key(services.settings.effective_key_dir)
    healthy = services.blobs
    with broken_disk(tmp_path / "broken", fault, kind) as (root, os_write):
        services.blobs = LocalBlobStore(root, key, os_write=os_write)
        with caplog.at_level(logging.ERROR):
            refused = await post_dispatch(
                client, headers, world.account.id, extra_headers={"Idempotency-Key": "k-1"}
            )
        left_on_disk = [p for p in root.rglob("*") if p.is_file()]
    services.blobs = healthy

    assert refused.status_code == status, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert int(refused.headers["Retry-After"]) > 0
    body = refused.json()
    assert body["type"] == problem and body["status"] == status
    assert "evidence_id" not in body  # our fault: no SubmissionRejection either
    assert left_on_disk == []
    assert await _counts(services) == before
    assert any(r.name == "mailbox.storage" and r.levelno == logging.ERROR for r in caplog.records)

    retried = await post_dispatch(
        client, headers, world.account.id, extra_headers={"Idempotency-Key": "k-1"}
    )
    assert retried.status_code == 201, retried.text
    assert "Idempotent-Replayed" not in retried.headers
    after = await _counts(services)
    assert after["Delivery"] == before["Delivery"] + 1


async def test_openapi_documents_the_storage_faults_of_a_dispatch(client: AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    responses = schema["paths"]["/api/v1/dispatches"]["post"]["responses"]
    assert {"503", "507"} <= set(responses)
    assert "Retry-After" in responses["507"]["description"]
