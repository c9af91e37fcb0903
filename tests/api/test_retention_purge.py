"""Retention: the purge job, run with a moved clock, crypto-shreds the content of deliveries
whose legal state is final once their retention period is over (never earlier, never one still
available), and what is left still proves the delivery: the evidence log verifies, the proof
bundle verifies and says the content was purged, the page says "Removed on", the document is
410 Gone. Retention periods per office and kind are set with the command line."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from httpx import AsyncClient

from mailbox import clock
from mailbox.deliveries.purge import purge_expired
from mailbox.deliveries.scans import run_legal_scans
from mailbox.errors import BlobCorrupted
from mailbox.evidence.audit import check_log
from mailbox.models import Delivery, Document, EvidenceRecord
from mailbox.proof.check import verify_bundle
from mailbox.services import Services
from mailbox.storage.blobs import LocalBlobStore, load_master_key
from tests.factories import make_world, post_dispatch, token_for, web_login
from tests.fixtures.cli import run_cli
from tests.fixtures.db import both_backends

DAY = timedelta(days=1)


async def _picked_up(client: AsyncClient, services: Services, world=None, **dispatch):
    world = world or await make_world(services)
    created = await post_dispatch(
        client, await token_for(client, world.dispatcher), world.account.id, **dispatch
    )
    assert created.status_code == 201, created.text
    delivery_id = created.json()["id"]
    applicant = await token_for(client, world.applicant)
    pickup = await client.get(f"/api/v1/deliveries/{delivery_id}/document", headers=applicant)
    assert pickup.status_code == 200, pickup.text
    return world, delivery_id, pickup


async def _stored(services: Services, delivery_id: str) -> tuple[Delivery, Document]:
    async with services.db.session() as session:
        delivery = await session.get(Delivery, delivery_id)
        assert delivery is not None
        document = await session.get(Document, delivery.document_id)
        assert document is not None
        return delivery, document


def _blob_path(services: Services, blob_id: str) -> Path:
    return services.settings.effective_blob_dir / blob_id[:2] / blob_id[2:4] / blob_id


async def _cli(services: Services, *args: str) -> tuple[int, str, str]:
    return await run_cli(services.settings, *args)


@both_backends
async def test_purge_job_shreds_expired_content_and_the_proof_still_verifies(
    client: AsyncClient, services: Services, tmp_path: Path
) -> None:
    world, delivery_id, pickup = await _picked_up(client, services)
    _, document = await _stored(services, delivery_id)
    blob = _blob_path(services, document.sealed_sha256)
    lingering = tmp_path / "lingering-copy"  # the same bytes on disk, as a stale block would be
    os.link(blob, lingering)

    clock.set_offset(119 * DAY)
    early = await purge_expired(services)
    assert (early.purged, early.shredded) == (0, 0)
    assert blob.exists()

    clock.set_offset(121 * DAY)
    report = await purge_expired(services)

    assert (report.purged, report.shredded) == (1, 1)
    # Blob gone, key gone: the bytes that outlived the file no longer open with the master key.
    assert not blob.exists()
    elsewhere = LocalBlobStore(tmp_path / "elsewhere", load_master_key(services.settings.key_dir))
    target = _blob_path_in(elsewhere.root, document.sealed_sha256)
    target.parent.mkdir(parents=True)
    shutil.copy(lingering, target)
    with pytest.raises(BlobCorrupted):
        elsewhere.get(document.sealed_sha256)
    delivery, document = await _stored(services, delivery_id)
    assert delivery.status == "picked_up" and delivery.content_purged_at is not None
    assert document.blob_shredded_at is not None
    assert "120 days after the pickup" in (delivery.content_purge_reason or "")

    # The evidence chain verifies, with the purge recorded and the hashes kept.
    async with services.db.session() as session:
        log_report = await check_log(session, services.keys)
        records = (await session.exec(_records_of(delivery_id))).all()
    assert log_report.ok
    purged = records[-1]
    assert purged.type == "ContentPurged"
    assert purged.sealed_sha256 == document.sealed_sha256 == pickup.headers["x-content-sha256"]
    assert purged.details["retention_days"] == 120

    applicant = await token_for(client, world.applicant)
    gone = await client.get(f"/api/v1/deliveries/{delivery_id}/document", headers=applicant)
    assert gone.status_code == 410
    assert gone.headers["content-type"].startswith("application/problem+json")
    problem = gone.json()
    assert problem["type"] == "/problems/content-purged"
    assert "Removed on" in problem["detail"] and "retention period ended" in problem["detail"]

    read = await client.get(f"/api/v1/deliveries/{delivery_id}", headers=applicant)
    assert read.json()["content_purged_at"] is not None
    assert read.json()["document"]["sealed_sha256"] == document.sealed_sha256

    proof = await client.get(f"/api/v1/deliveries/{delivery_id}/proof", headers=applicant)
    assert proof.status_code == 200, proof.text
    assert "x-evidence-type" not in proof.headers  # no content left, so no access recorded
    with zipfile.ZipFile(io.BytesIO(proof.content)) as archive:
        assert "document.pdf" not in archive.namelist()
        evidence = json.loads(archive.read("evidence.json"))
    assert evidence["records"][-1]["type"] == "ContentPurged"
    checked = await asyncio.to_thread(
        verify_bundle, proof.content, trust_root=services.keys.root_cert
    )
    assert checked.ok, checked.failed()
    assert checked.content_purged_at is not None
    assert any("content was purged" in note for note in checked.notes)
    # A bundle claiming to hold the document after its purge is caught.
    forged = io.BytesIO()
    with zipfile.ZipFile(forged, "w") as archive:
        with zipfile.ZipFile(io.BytesIO(proof.content)) as original:
            for name in original.namelist():
                archive.writestr(name, original.read(name))
        archive.writestr("document.pdf", pickup.content)
    refuted = await asyncio.to_thread(
        verify_bundle, forged.getvalue(), trust_root=services.keys.root_cert
    )
    assert refuted.failed() == ["content purged"]

    login = await web_login(client, world.applicant.email)
    assert login.status_code == 303
    page = await client.get(f"/deliveries/{delivery_id}")
    assert "Removed on" in page.text
    assert 'id="download"' not in page.text
    page_download = await client.get(f"/deliveries/{delivery_id}/document")
    assert page_download.status_code == 410

    again = await purge_expired(services)
    assert (again.purged, again.shredded) == (0, 0)


def _blob_path_in(root: Path, blob_id: str) -> Path:
    return root / blob_id[:2] / blob_id[2:4] / blob_id


def _records_of(delivery_id: str):
    from sqlmodel import col, select

    return (
        select(EvidenceRecord)
        .where(EvidenceRecord.delivery_id == delivery_id)
        .order_by(col(EvidenceRecord.seq))
    )


async def test_content_still_available_is_never_purged_and_deemed_delivery_counts_from_its_date(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services, deemed_days=10)
    created = await post_dispatch(
        client, await token_for(client, world.dispatcher), world.account.id
    )
    delivery_id = created.json()["id"]
    _, document = await _stored(services, delivery_id)

    clock.set_offset(200 * DAY)  # long overdue, but the legal scan has not deemed it yet
    assert (await purge_expired(services)).purged == 0
    assert (await _stored(services, delivery_id))[0].status == "available"

    await run_legal_scans(services)  # deemed delivered as of day 10
    clock.set_offset(129 * DAY)
    assert (await purge_expired(services)).purged == 0
    clock.set_offset(131 * DAY)
    assert (await purge_expired(services)).purged == 1
    delivery, _ = await _stored(services, delivery_id)
    assert delivery.status == "deemed_delivered"
    assert "after the deemed delivery" in (delivery.content_purge_reason or "")
    assert not _blob_path(services, document.sealed_sha256).exists()


async def test_a_paper_delivery_waiting_in_the_queue_is_never_purged(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services, edelivery=False)
    created = await post_dispatch(
        client, await token_for(client, world.dispatcher), world.account.id
    )
    delivery_id = created.json()["id"]
    _, document = await _stored(services, delivery_id)

    clock.set_offset(400 * DAY)
    assert (await purge_expired(services)).purged == 0
    delivery, _ = await _stored(services, delivery_id)
    assert delivery.status == "paper_queued" and delivery.content_purged_at is None
    assert _blob_path(services, document.sealed_sha256).exists()


async def test_retention_set_per_office_and_kind_decides_what_is_purged(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    _, short_id, _ = await _picked_up(client, services, world, kind_code="R71")
    _, long_id, _ = await _picked_up(client, services, world, kind_code="R99", dossier_number="X")

    code, out, err = await _cli(
        services, "--json", "retention", "set", "--office", world.office.code, "--kind", "R71",
        "--documents-days", "30",
    )  # fmt: skip
    assert code == 0, err
    body = json.loads(out)
    assert body["effective"]["documents_days"] == 30
    assert body["effective"]["documents_from"] == f"office {world.office.code}, kind R71"
    assert body["effective"]["evidence_days"] == 3650

    clock.set_offset(31 * DAY)
    assert (await purge_expired(services)).purged == 1
    assert (await _stored(services, short_id))[0].content_purged_at is not None
    assert (await _stored(services, long_id))[0].content_purged_at is None

    code, out, _ = await _cli(services, "--json", "retention", "list")
    listed = json.loads(out)
    assert listed["defaults"] == {"documents_days": 120, "evidence_days": 3650}
    assert [(p["office"], p["kind"]) for p in listed["policies"]] == [(world.office.code, "R71")]


BAD_INPUT = [
    (["--documents-days", "0"], "documents_days: must be 1..36500 days"),
    (["--documents-days", "400", "--evidence-days", "300"], "less long than content"),
    (["--kind", "R 71", "--documents-days", "30"], "kind: 1-32 letters"),
    ([], "give documents days, evidence days or both"),
]


async def test_retention_set_refuses_bad_input_with_one_line_and_writes_nothing(
    services: Services,
) -> None:
    world = await make_world(services)
    for args, message in BAD_INPUT:
        code, out, err = await _cli(
            services, "retention", "set", "--office", world.office.code, *args
        )
        assert code == 2, (args, out)
        assert message in err, args
        assert len(err.strip().splitlines()) == 1, err
    code, _, err = await _cli(
        services, "retention", "set", "--office", "NOPE", "--documents-days", "30"
    )
    assert code == 2
    assert "No office 'NOPE'" in err
    code, out, _ = await _cli(services, "--json", "retention", "list")
    assert json.loads(out)["policies"] == []
