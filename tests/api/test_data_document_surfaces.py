"""A data document on every surface: the recipient downloads a JSON notice as JSON (named
``.json``, with the same digests, ranges and pickup evidence as a PDF) and its detached seal;
the delivery says what it is; the proof bundle holds the notice and its seal for the
recipient and verifies offline (a changed byte or a changed seal fails); the delivery page
shows the notice's fields only through the recorded pickup, and the office's page names it."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from httpx import AsyncClient

from mailbox.proof.check import verify_bundle
from mailbox.services import Services
from mailbox.signing.detached import canonical_json, validate_detached
from mailbox.signing.records import cert_pem
from tests.api.test_data_notices import NOTICE, _post_notice
from tests.factories import World, log_in_page, make_world, post_dispatch, token_for
from tests.fixtures.db import both_backends

XML_NOTICE = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<notice kind="national-phase-entry">\n'
    b"  <status>entered</status>\n  <entry_date>2026-11-20</entry_date>\n</notice>\n"
)


async def _notice_delivered(
    client: AsyncClient, services: Services, notice: dict[str, str] = NOTICE
) -> tuple[World, str]:
    world = await make_world(services)
    dispatcher = await token_for(client, world.dispatcher)
    created = await _post_notice(client, dispatcher, world.account.id, json.dumps(notice).encode())
    assert created.status_code == 201, created.text
    return world, created.json()["id"]


def _files(bundle: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _rezip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@both_backends
async def test_a_notice_downloads_as_json_with_digests_ranges_and_its_pickup(
    client: AsyncClient, services: Services
) -> None:
    world, delivery_id = await _notice_delivered(client, services)
    applicant = await token_for(client, world.applicant)
    url = f"/api/v1/deliveries/{delivery_id}"
    described = (await client.get(url, headers=applicant)).json()
    assert described["document"]["media_type"] == "application/json"
    assert described["seal_url"] == f"{url}/document/seal"

    part = await client.get(f"{url}/document", headers={**applicant, "Range": "bytes=0-9"})
    whole = await client.get(f"{url}/document", headers=applicant)
    current = await client.get(
        f"{url}/document", headers={**applicant, "If-None-Match": whole.headers["etag"]}
    )

    expected = canonical_json(NOTICE)
    digest = hashlib.sha256(expected).hexdigest()
    assert part.status_code == 206 and part.content == expected[:10]
    assert part.headers["x-evidence-type"] == "ContentHandover"
    assert whole.status_code == 200 and whole.content == expected
    assert whole.headers["content-type"] == "application/json"
    assert whole.headers["content-disposition"] == "attachment; filename*=UTF-8''notice.json"
    assert whole.headers["etag"] == f'"{digest}"'
    assert whole.headers["repr-digest"].startswith("sha-256=:")
    assert whole.headers["x-evidence-type"] == "ContentAccess"
    assert current.status_code == 304 and current.content == b""
    timeline = (await client.get(url, headers=applicant)).json()["timeline"]
    assert [e["type"] for e in timeline][-2:] == ["ContentHandover", "ContentAccess"]


async def test_the_seal_is_for_the_recipient_unrecorded_and_verifies(
    client: AsyncClient, services: Services
) -> None:
    world, delivery_id = await _notice_delivered(client, services)
    applicant = await token_for(client, world.applicant)
    dispatcher = await token_for(client, world.dispatcher)
    url = f"/api/v1/deliveries/{delivery_id}"

    seal = await client.get(f"{url}/document/seal", headers=applicant)
    by_office = await client.get(f"{url}/document/seal", headers=dispatcher)

    assert seal.status_code == 200, seal.text
    assert seal.headers["content-type"] == "application/pkcs7-signature"
    assert seal.headers["content-disposition"] == "attachment; filename*=UTF-8''notice.json.p7s"
    assert seal.headers["etag"] == f'"{hashlib.sha256(seal.content).hexdigest()}"'
    checked = validate_detached(
        canonical_json(NOTICE), seal.content, trust_root=services.keys.root_cert
    )
    assert checked.ok, checked
    assert by_office.status_code == 404
    assert (await client.get(url, headers=dispatcher)).json()["seal_url"] is None
    after = (await client.get(url, headers=applicant)).json()
    assert after["unread"] is True and after["status"] == "available"


async def test_a_pdf_has_no_detached_seal(client: AsyncClient, services: Services) -> None:
    world = await make_world(services)
    created = await post_dispatch(
        client, await token_for(client, world.dispatcher), world.account.id
    )
    applicant = await token_for(client, world.applicant)
    url = f"/api/v1/deliveries/{created.json()['id']}"

    described = (await client.get(url, headers=applicant)).json()
    seal = await client.get(f"{url}/document/seal", headers=applicant)

    assert described["document"]["media_type"] == "application/pdf"
    assert described["seal_url"] is None
    assert seal.status_code == 404
    assert "is a PDF" in seal.json()["detail"]


@both_backends
async def test_a_notice_bundle_verifies_offline_and_a_changed_byte_or_seal_does_not(
    client: AsyncClient, services: Services
) -> None:
    world, delivery_id = await _notice_delivered(client, services)
    applicant = await token_for(client, world.applicant)

    proof = await client.get(f"/api/v1/deliveries/{delivery_id}/proof", headers=applicant)

    assert proof.status_code == 200, proof.text
    assert proof.headers["x-evidence-type"] == "ContentHandover"
    files = _files(proof.content)
    assert "document.pdf" not in files
    assert files["document.json"] == canonical_json(NOTICE)
    assert "document.json.p7s" in files
    evidence = json.loads(files["evidence.json"])
    assert evidence["document"]["media_type"] == "application/json"
    root = services.keys.root_cert
    report = await asyncio.to_thread(verify_bundle, proof.content, trust_root=root)
    assert report.ok, report
    assert {"document seal", "document hash"} <= {f.check for f in report.findings}

    changed = bytearray(files["document.json"])
    changed[changed.index(b"JP")] = ord("K")
    altered = await asyncio.to_thread(
        verify_bundle, _rezip({**files, "document.json": bytes(changed)}), trust_root=root
    )
    assert not altered.ok
    assert {"document seal", "document hash"} <= set(altered.failed())

    other = await _notice_delivered(client, services, {**NOTICE, "applicant_reference": "B-2"})
    other_proof = await client.get(
        f"/api/v1/deliveries/{other[1]}/proof", headers=await token_for(client, other[0].applicant)
    )
    other_seal = _files(other_proof.content)["document.json.p7s"]
    resealed = await asyncio.to_thread(
        verify_bundle, _rezip({**files, "document.json.p7s": other_seal}), trust_root=root
    )
    broken = await asyncio.to_thread(
        verify_bundle,
        _rezip({**files, "document.json.p7s": files["document.json.p7s"][:-40]}),
        trust_root=root,
    )
    assert resealed.failed() == ["document seal"]
    assert broken.failed() == ["document seal"]


async def test_without_the_notice_the_bundle_proves_it_by_hash(
    client: AsyncClient, services: Services
) -> None:
    world, delivery_id = await _notice_delivered(client, services)
    dispatcher = await token_for(client, world.dispatcher)

    proof = await client.get(f"/api/v1/deliveries/{delivery_id}/proof", headers=dispatcher)

    files = _files(proof.content)
    assert not {"document.json", "document.json.p7s"} & set(files)
    evidence = json.loads(files["evidence.json"])
    digest = hashlib.sha256(canonical_json(NOTICE)).hexdigest()
    assert evidence["document"]["sealed_sha256"] == digest
    report = await asyncio.to_thread(
        verify_bundle, proof.content, trust_root=services.keys.root_cert
    )
    assert report.ok, report


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
async def test_the_readme_openssl_command_verifies_the_notice_seal(
    client: AsyncClient, services: Services, tmp_path: Path
) -> None:
    world, delivery_id = await _notice_delivered(client, services)
    applicant = await token_for(client, world.applicant)
    proof = await client.get(f"/api/v1/deliveries/{delivery_id}/proof", headers=applicant)
    files = _files(proof.content)
    for name in ("document.json", "document.json.p7s"):
        (tmp_path / name).write_bytes(files[name])
    (tmp_path / "root.pem").write_text(cert_pem(services.keys.root_cert))
    command = [
        "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", "document.json.p7s",
        "-content", "document.json", "-CAfile", "root.pem", "-purpose", "any", "-out", "/dev/null",
    ]  # fmt: skip
    assert " ".join(command[:-2]) in files["README.txt"].decode()

    good = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    (tmp_path / "document.json").write_bytes(files["document.json"].replace(b"JP", b"KP"))
    bad = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)

    assert good.returncode == 0, good.stderr
    assert "Verification successful" in good.stderr
    assert bad.returncode != 0


async def test_an_xml_document_is_served_as_xml_byte_for_byte(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    created = await client.post(
        "/api/v1/dispatches",
        headers=await token_for(client, world.dispatcher),
        files={"file": ("notice", XML_NOTICE, "application/xml")},
        data={
            "recipient_account_id": world.account.id,
            "kind_code": "R71",
            "dossier_number": "EP23123456.7",
            "title": "An XML document",
        },
    )
    assert created.status_code == 201, created.text
    applicant = await token_for(client, world.applicant)
    url = f"/api/v1/deliveries/{created.json()['id']}"

    document = await client.get(f"{url}/document", headers=applicant)
    proof = await client.get(f"{url}/proof", headers=applicant)

    assert document.content == XML_NOTICE
    assert document.headers["content-type"] == "application/xml"
    assert document.headers["content-disposition"] == "attachment; filename*=UTF-8''notice.xml"
    files = _files(proof.content)
    assert files["document.xml"] == XML_NOTICE and "document.xml.p7s" in files
    report = await asyncio.to_thread(
        verify_bundle, proof.content, trust_root=services.keys.root_cert
    )
    assert report.ok, report


@both_backends
async def test_the_notice_page_shows_the_fields_only_through_a_recorded_pickup(
    client: AsyncClient, services: Services
) -> None:
    world, delivery_id = await _notice_delivered(client, services)
    await log_in_page(client, world.applicant)

    before = await client.get(f"/deliveries/{delivery_id}")
    opened = await client.get(f"/deliveries/{delivery_id}/notice")
    after = await client.get(f"/deliveries/{delivery_id}")

    assert before.status_code == 200
    assert f'href="/deliveries/{delivery_id}/notice"' in before.text
    assert "Open the notice" in before.text and "JSON notice" in before.text
    assert "2026-501234" not in before.text  # no field of the notice before it is opened
    assert "Download sealed PDF" not in before.text
    assert opened.status_code == 200, opened.text
    for label, value in (
        ("International application number", "PCT/EP2026/012345"),
        ("Designated office", "JP"),
        ("National application number", "2026-501234"),
        ("Entry date", "2026-11-20"),
        ("Status", "entered"),
        ("Applicant reference", "ACME-17"),
    ):
        assert f'<th scope="row">{label}</th><td>{value}</td>' in opened.text
    assert "ContentHandover" in opened.text
    assert opened.headers["cache-control"] == "no-store"
    assert 'id="picked-up">not yet' not in after.text
    again = await client.get(f"/deliveries/{delivery_id}/notice")
    assert "ContentAccess" in again.text


async def test_the_office_page_names_the_json_notice_and_its_hash_and_shows_no_fields(
    client: AsyncClient, services: Services
) -> None:
    world, delivery_id = await _notice_delivered(client, services)
    await log_in_page(client, world.dispatcher)

    page = await client.get(f"/office/dispatches/{delivery_id}")
    opened = await client.get(f"/deliveries/{delivery_id}/notice")

    digest = hashlib.sha256(canonical_json(NOTICE)).hexdigest()
    assert page.status_code == 200, page.text
    assert "JSON notice" in page.text
    assert f'SHA-256 of the JSON notice</dt><dd><code id="document-sha256">{digest}' in page.text
    assert "sealed PDF" not in page.text
    assert opened.status_code == 404
    assert "2026-501234" not in opened.text
