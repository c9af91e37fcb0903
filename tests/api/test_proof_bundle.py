"""The proof of delivery over HTTP: a picked-up delivery's bundle verifies offline with the root
certificate alone (in process and with the command line), who may download it, and that no
document content leaves in a bundle without a recorded access: the account's people get the
sealed PDF in it and their download is a pickup, the office's staff get a bundle without it."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
import zipfile
from pathlib import Path

from httpx import AsyncClient

from mailbox.proof.check import NO_DOCUMENT_NOTE, verify_bundle
from mailbox.services import Services
from mailbox.signing.records import cert_pem
from tests.factories import (
    World,
    log_in_page,
    make_world,
    post_dispatch,
    token_for,
)

ROOT = Path(__file__).resolve().parents[2]
BUNDLE_FILES = {
    "README.txt",
    "document.pdf",
    "evidence.json",
    "checkpoint.json",
    "receipt.pdf",
    "certificates/root.pem",
    "certificates/evidence.pem",
    "certificates/tsa.pem",
    "certificates/seal.pem",
}


async def _dispatched(client: AsyncClient, services: Services) -> tuple[World, str]:
    world = await make_world(services)
    created = await post_dispatch(
        client, await token_for(client, world.dispatcher), world.account.id
    )
    assert created.status_code == 201, created.text
    return world, created.json()["id"]


def _files(bundle: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


async def _verify_with_cli(bundle: Path, root: Path) -> tuple[int, dict]:
    """`python -m mailbox --json audit verify-bundle`, run as an auditor would."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mailbox",
        "--json",
        "audit",
        "verify-bundle",
        str(bundle),
        "--root",
        str(root),
        cwd=ROOT,
        env=dict(os.environ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert stdout.startswith(b"{"), stderr.decode()
    return process.returncode or 0, json.loads(stdout)


async def test_picked_up_delivery_proof_verifies_with_the_root_alone(
    client: AsyncClient, services: Services, tmp_path: Path
) -> None:
    world, delivery_id = await _dispatched(client, services)
    applicant = await token_for(client, world.applicant)
    pickup = await client.get(f"/api/v1/deliveries/{delivery_id}/document", headers=applicant)
    assert pickup.headers["x-evidence-type"] == "ContentHandover"

    response = await client.get(f"/api/v1/deliveries/{delivery_id}/proof", headers=applicant)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="proof-{delivery_id}.zip"'
    )
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert set(archive.namelist()) == BUNDLE_FILES
        assert archive.read("document.pdf") == pickup.content
        evidence = json.loads(archive.read("evidence.json"))
        readme = archive.read("README.txt").decode()
    assert [r["type"] for r in evidence["records"]] == [
        "SubmissionAcceptance",
        "ContentConsignment",
        "ContentHandover",
    ]
    handover = evidence["records"][2]
    assert handover["actor"] == f"user:{world.applicant.id}"
    assert handover["timestamp_gen_time"].endswith("Z")
    legal = evidence["delivery"]["legal_date"]
    assert legal["basis"] == "pickup" and legal["sentence"].startswith("Delivered on ")
    assert f"audit verify-bundle proof-{delivery_id}.zip --root root.pem" in readme

    report = await asyncio.to_thread(
        verify_bundle, response.content, trust_root=services.keys.root_cert
    )
    assert report.ok, report

    bundle, root = tmp_path / "proof.zip", tmp_path / "root.pem"
    bundle.write_bytes(response.content)
    root.write_text(cert_pem(services.keys.root_cert))
    code, printed = await _verify_with_cli(bundle, root)
    assert code == 0, printed
    assert printed["ok"] is True
    assert printed["delivery_id"] == delivery_id
    assert {c["check"] for c in printed["checks"] if c["passed"]} == {
        "document seal",
        "document hash",
        "original document",
        "evidence certificate",
        "record hashes",
        "signatures",
        "timestamps",
        "order and links",
        "checkpoint signature",
        "checkpoint timestamp",
        "inclusion proofs",
        "receipt seal",
    }


async def test_a_recipients_proof_holds_the_document_and_its_download_is_the_pickup(
    client: AsyncClient, services: Services
) -> None:
    world, delivery_id = await _dispatched(client, services)
    applicant = await token_for(client, world.applicant)
    before = (await client.get(f"/api/v1/deliveries/{delivery_id}", headers=applicant)).json()
    assert before["unread"] is True

    response = await client.get(f"/api/v1/deliveries/{delivery_id}/proof", headers=applicant)

    assert response.status_code == 200, response.text
    assert response.headers["x-evidence-type"] == "ContentHandover"
    files = _files(response.content)
    assert set(files) == BUNDLE_FILES
    after = (await client.get(f"/api/v1/deliveries/{delivery_id}", headers=applicant)).json()
    assert after["status"] == "picked_up"
    assert after["unread"] is False
    handover = after["timeline"][-1]
    assert handover["type"] == "ContentHandover"
    assert handover["actor"] == f"user:{world.applicant.id}"
    assert handover["actor_ip"] == "203.0.113.7"
    assert handover["details"]["via"] == "proof bundle"
    assert handover["details"]["legal_date"]["basis"] == "pickup"  # the legal clock's record
    assert after["picked_up_at"] == handover["occurred_at"]
    # The bytes in the bundle are the sealed document the records name.
    again = await client.get(f"/api/v1/deliveries/{delivery_id}/document", headers=applicant)
    assert again.headers["x-evidence-type"] == "ContentAccess"
    assert files["document.pdf"] == again.content
    # A second bundle is a later access, recorded like any other.
    second = await client.get(f"/api/v1/deliveries/{delivery_id}/proof", headers=applicant)
    assert second.headers["x-evidence-type"] == "ContentAccess"
    last = (await client.get(f"/api/v1/deliveries/{delivery_id}", headers=applicant)).json()
    assert [e["type"] for e in last["timeline"][-3:]] == [
        "ContentHandover",
        "ContentAccess",
        "ContentAccess",
    ]


async def test_office_staff_get_a_verifiable_proof_without_the_document_and_record_nothing(
    client: AsyncClient, services: Services, tmp_path: Path
) -> None:
    """The dispatcher with a bearer token from the API; the auditor from the delivery page's
    link, with the web session's cookie. Neither may pick the document up, so neither bundle
    holds it, and the delivery stays unread with its timeline unchanged."""
    world, delivery_id = await _dispatched(client, services)
    applicant = await token_for(client, world.applicant)
    before = (await client.get(f"/api/v1/deliveries/{delivery_id}", headers=applicant)).json()
    proof = f"/api/v1/deliveries/{delivery_id}/proof"
    page_proof = f"/deliveries/{delivery_id}/proof"

    by_dispatcher = await client.get(proof, headers=await token_for(client, world.dispatcher))
    login = await log_in_page(client, world.auditor)
    page = await client.get(f"/deliveries/{delivery_id}")
    by_auditor = await client.get(page_proof)

    assert by_dispatcher.status_code == 200, by_dispatcher.text
    assert login.status_code == 303
    assert f'href="{page_proof}"' in page.text
    assert "proves the document by its SHA-256 and does not hold it" in page.text
    assert by_auditor.status_code == 200, by_auditor.text
    assert by_auditor.headers["content-type"] == "application/zip"
    for bundle in (by_dispatcher, by_auditor):
        assert "x-evidence-type" not in bundle.headers
        assert set(_files(bundle.content)) == BUNDLE_FILES - {"document.pdf"}
    after = (await client.get(f"/api/v1/deliveries/{delivery_id}", headers=applicant)).json()
    assert after["status"] == "available"
    assert after["unread"] is True
    assert after["timeline"] == before["timeline"]

    report = await asyncio.to_thread(
        verify_bundle, by_auditor.content, trust_root=services.keys.root_cert
    )
    assert report.ok, report
    assert NO_DOCUMENT_NOTE in report.notes
    assert {f.check for f in report.findings} == {
        "evidence certificate",
        "record hashes",
        "signatures",
        "timestamps",
        "order and links",
        "checkpoint signature",
        "checkpoint timestamp",
        "inclusion proofs",
        "receipt seal",
    }
    bundle, root = tmp_path / "proof.zip", tmp_path / "root.pem"
    bundle.write_bytes(by_auditor.content)
    root.write_text(cert_pem(services.keys.root_cert))
    code, printed = await _verify_with_cli(bundle, root)
    assert code == 0, printed
    assert printed["ok"] is True


async def test_a_paper_deliverys_proof_holds_no_document_and_records_nothing(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    withdrawn = await client.delete(f"/api/v1/accounts/{world.account.id}/consent", headers=owner)
    assert withdrawn.status_code == 200, withdrawn.text
    created = await post_dispatch(
        client, await token_for(client, world.dispatcher), world.account.id
    )
    delivery_id = created.json()["id"]
    assert created.json()["status"] == "paper_queued"

    response = await client.get(f"/api/v1/deliveries/{delivery_id}/proof", headers=owner)

    assert response.status_code == 200, response.text
    assert "document.pdf" not in _files(response.content)
    after = (await client.get(f"/api/v1/deliveries/{delivery_id}", headers=owner)).json()
    assert after["status"] == "paper_queued"
    assert after["timeline"] == created.json()["timeline"]


async def test_stranger_gets_404_and_anonymous_401_for_the_proof(
    client: AsyncClient, services: Services
) -> None:
    world, delivery_id = await _dispatched(client, services)

    stranger = await client.get(
        f"/api/v1/deliveries/{delivery_id}/proof", headers=await token_for(client, world.stranger)
    )
    anonymous = await client.get(f"/api/v1/deliveries/{delivery_id}/proof")

    assert stranger.status_code == 404
    assert stranger.headers["content-type"].startswith("application/problem+json")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
