"""Office-to-office transmissions: an office sends a package through a hub, the hub's system
receives it (pickup evidenced, receipt acknowledged) and forwards it, the final recipient picks
it up; every hop is an ordinary delivery with its evidence, and the whole route verifies
offline from one proof."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

from httpx import AsyncClient
from sqlmodel import func, select

from mailbox.identity.admin import open_office_mailbox
from mailbox.models import (
    Document,
    EvidenceRecord,
    Transmission,
    TransmissionHop,
)
from mailbox.notifications.outbox import drain_until_idle
from mailbox.proof.check_transmission import verify_transmission_bundle
from mailbox.services import Services
from mailbox.signing.detached import validate_detached
from tests.factories import FORM_TOKEN_FIELD, log_in_page, make_world, token_for
from tests.fixtures.cli import run_cli
from tests.fixtures.db import both_backends
from tests.transmissions import NUMBER, make_route, package, post_transmission, receiver


async def _drain(services: Services) -> None:
    await drain_until_idle(services, worker_id="test", lanes=1)


async def _count(services: Services, statement) -> int:
    async with services.db.session() as session:
        return (await session.exec(statement)).one()


async def _set_rule(client: AsyncClient, headers: dict[str, str], hub: str, mode: str):
    return await client.put(
        f"/api/v1/offices/{hub}/forwarding/search-copy", headers=headers, json={"mode": mode}
    )


@both_backends
async def test_a_package_travels_through_the_hub_and_is_picked_up_with_evidence_at_each_hop(
    client: AsyncClient, services: Services
) -> None:
    route = await make_route(services)
    sender = await token_for(client, route.world.dispatcher)
    manifest, files = package(route.world.office.code, route.final.office.code)

    sent = await post_transmission(client, sender, manifest, files, via=route.hub.office.code)
    assert sent.status_code == 201, sent.text
    body = sent.json()
    transmission_id = body["id"]
    assert body["route"] == [
        route.world.office.code,
        route.hub.office.code,
        route.final.office.code,
    ]
    assert [(h["from"], h["to"], h["status"]) for h in body["hops"]] == [
        (route.world.office.code, route.hub.office.code, "delivered")
    ]
    assert [d["file"] for d in body["documents"]] == list(files)

    await _drain(services)

    clerk = await token_for(client, route.final.clerk)
    status = (await client.get(f"/api/v1/transmissions/{transmission_id}", headers=clerk)).json()
    first, second = status["hops"]
    assert first["status"] == "forwarded" and first["acknowledged_at"] and first["forwarded_at"]
    assert first["picked_up_at"]  # the hub's system took the package
    assert (second["from"], second["to"], second["status"]) == (
        route.hub.office.code,
        route.final.office.code,
        "delivered",
    )

    inbox = (await client.get("/api/v1/inbox", headers=clerk)).json()["items"]
    assert [item["id"] for item in inbox] == [second["delivery_id"]]
    fetched = await client.get(
        f"/api/v1/deliveries/{second['delivery_id']}/document", headers=clerk
    )
    assert fetched.status_code == 200
    assert fetched.headers["X-Evidence-Type"] == "ContentHandover"
    packaged = json.loads(fetched.content)
    assert packaged["format"] == "mailbox-transmission-package/1"
    assert packaged["route"] == body["route"]
    assert packaged["manifest"]["international_application_number"] == NUMBER
    report = await client.get(f"/api/v1/transmissions/{transmission_id}/documents/2", headers=clerk)
    assert report.status_code == 200, report.text
    assert report.headers["content-type"].startswith("application/json")
    assert report.headers["X-Evidence-Type"] == "ContentAccess"
    seal = await client.get(
        f"/api/v1/transmissions/{transmission_id}/documents/2/seal", headers=clerk
    )
    assert validate_detached(report.content, seal.content, trust_root=services.keys.root_cert).ok
    pdf = await client.get(f"/api/v1/transmissions/{transmission_id}/documents/0", headers=clerk)
    assert pdf.headers["content-type"].startswith("application/pdf")
    assert hashlib.sha256(pdf.content).hexdigest() == packaged["documents"][0]["sealed_sha256"]

    seen = (await client.get(f"/api/v1/transmissions/{transmission_id}", headers=sender)).json()
    assert seen["status"] == "picked_up" and seen["completed_at"]
    assert seen["hops"][1]["status"] == "picked_up"
    for hop in seen["hops"]:
        assert hop["delivered_at"] and hop["picked_up_at"]
    listed = (await client.get("/api/v1/transmissions", headers=sender)).json()
    assert [item["id"] for item in listed["items"]] == [transmission_id]

    auditor = await token_for(client, route.world.auditor)
    proof = await client.get(f"/api/v1/transmissions/{transmission_id}/proof", headers=auditor)
    assert proof.status_code == 200, proof.text
    checked = verify_transmission_bundle(proof.content, trust_root=services.keys.root_cert)
    assert checked.ok, [f for f in checked.findings if not f.passed]
    assert len(checked.hops) == 2
    with zipfile.ZipFile(io.BytesIO(proof.content)) as archive:
        names = set(archive.namelist())
        assert {"transmission.json", "hops/0.zip", "hops/1.zip"} <= names
        assert "package.json" not in names  # the sender's auditor may not have the content
        with zipfile.ZipFile(io.BytesIO(archive.read("hops/0.zip"))) as hop:
            assert "ReceiptAcknowledgement" in hop.read("evidence.json").decode()

    tampered = _tamper_hop_evidence(proof.content)
    assert not verify_transmission_bundle(tampered, trust_root=services.keys.root_cert).ok


def _tamper_hop_evidence(content: bytes) -> bytes:
    """The proof with one byte of hop 1's evidence changed (its bundle hash fixed up, so that
    only the evidence itself gives it away)."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    with zipfile.ZipFile(io.BytesIO(files["hops/1.zip"])) as hop:
        inner = {name: hop.read(name) for name in hop.namelist()}
    evidence = inner["evidence.json"]
    at = evidence.index(b'"ContentConsignment"') + 2
    inner["evidence.json"] = evidence[:at] + b"K" + evidence[at + 1 :]
    files["hops/1.zip"] = _zip(inner)
    summary = json.loads(files["transmission.json"])
    summary["hops"][1]["bundle_sha256"] = hashlib.sha256(files["hops/1.zip"]).hexdigest()
    files["transmission.json"] = json.dumps(summary).encode()
    return _zip(files)


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


async def test_the_recipient_s_proof_holds_the_package_and_records_it(
    client: AsyncClient, services: Services
) -> None:
    route = await make_route(services)
    sender = await token_for(client, route.world.dispatcher)
    manifest, files = package(route.world.office.code, route.final.office.code)
    sent = await post_transmission(client, sender, manifest, files, via=route.hub.office.code)
    await _drain(services)
    clerk = await token_for(client, route.final.clerk)

    proof = await client.get(f"/api/v1/transmissions/{sent.json()['id']}/proof", headers=clerk)

    checked = verify_transmission_bundle(proof.content, trust_root=services.keys.root_cert)
    assert checked.ok, [f for f in checked.findings if not f.passed]
    assert {"package hash", "package seal", "package route"} <= {f.check for f in checked.findings}
    status = (await client.get(f"/api/v1/transmissions/{sent.json()['id']}", headers=clerk)).json()
    assert status["hops"][1]["status"] == "picked_up"  # the proof handed the package over


@both_backends
async def test_the_same_office_route_evidences_both_hops(
    client: AsyncClient, services: Services
) -> None:
    route = await make_route(services)
    async with services.db.write() as session:
        own, _ = await open_office_mailbox(
            session=session, office=route.world.office.id, email="intake@sender.example"
        )
    sender = await token_for(client, route.world.dispatcher)
    code = route.world.office.code
    manifest, files = package(code, code, documents=1)

    sent = await post_transmission(client, sender, manifest, files, via=route.hub.office.code)
    assert sent.status_code == 201, sent.text
    await _drain(services)

    status = (await client.get(f"/api/v1/transmissions/{sent.json()['id']}", headers=sender)).json()
    assert status["route"] == [code, route.hub.office.code, code]
    assert [(h["from"], h["to"]) for h in status["hops"]] == [
        (code, route.hub.office.code),
        (route.hub.office.code, code),
    ]
    assert status["hops"][0]["acknowledged_at"] and status["hops"][0]["status"] == "forwarded"
    evidenced = await _count(
        services,
        select(func.count(func.distinct(EvidenceRecord.delivery_id)))
        .join(TransmissionHop, TransmissionHop.delivery_id == EvidenceRecord.delivery_id)
        .where(TransmissionHop.transmission_id == sent.json()["id"]),
    )
    assert evidenced == 2  # both hops have their evidence
    direct_manifest, direct_files = package(code, code, documents=1)
    direct = await post_transmission(client, sender, direct_manifest, direct_files)
    assert direct.status_code == 201, direct.text
    assert [(h["from"], h["to"]) for h in direct.json()["hops"]] == [(code, code)]
    assert own.id


async def test_a_manifest_with_several_errors_is_refused_in_one_answer_and_recorded(
    client: AsyncClient, services: Services
) -> None:
    route = await make_route(services)
    sender = await token_for(client, route.world.dispatcher)
    manifest, files = package(route.world.office.code, route.final.office.code)
    broken = json.loads(manifest)
    broken["international_application_number"] = "EP2026012345"
    broken["kind"] = "gossip"
    del broken["final_recipient"]

    answer = await post_transmission(client, sender, json.dumps(broken).encode(), files)

    assert answer.status_code == 422, answer.text
    fields = {e["field"] for e in answer.json()["errors"]}
    assert {"international_application_number", "kind", "final_recipient"} <= fields
    await _nothing_written_but_one_rejection(services, answer.json())


async def test_a_tampered_document_is_refused_naming_its_hash(
    client: AsyncClient, services: Services
) -> None:
    route = await make_route(services)
    sender = await token_for(client, route.world.dispatcher)
    manifest, files = package(route.world.office.code, route.final.office.code)
    files["claims-1.pdf"] = files["claims-1.pdf"] + b"\n%tampered"

    answer = await post_transmission(client, sender, manifest, files, via=route.hub.office.code)

    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == ["documents[1].sha256"]
    await _nothing_written_but_one_rejection(services, answer.json())


async def test_a_final_recipient_without_a_mailbox_is_refused(
    client: AsyncClient, services: Services
) -> None:
    route = await make_route(services)
    elsewhere = await make_world(services)
    sender = await token_for(client, route.world.dispatcher)
    manifest, files = package(route.world.office.code, elsewhere.office.code)

    answer = await post_transmission(client, sender, manifest, files)

    assert answer.status_code == 422, answer.text
    (error,) = answer.json()["errors"]
    assert error["field"] == "final_recipient" and "has no mailbox" in error["message"]
    await _nothing_written_but_one_rejection(services, answer.json())


async def test_a_sender_that_is_not_the_sending_office_is_refused(
    client: AsyncClient, services: Services
) -> None:
    route = await make_route(services)
    sender = await token_for(client, route.world.dispatcher)
    manifest, files = package(route.hub.office.code, route.final.office.code)

    answer = await post_transmission(client, sender, manifest, files, via="NOSUCH")

    assert answer.status_code == 422, answer.text
    assert {e["field"] for e in answer.json()["errors"]} == {"sender", "via"}
    await _nothing_written_but_one_rejection(services, answer.json())


async def _nothing_written_but_one_rejection(services: Services, problem: dict) -> None:
    assert await _count(services, select(func.count()).select_from(Transmission)) == 0
    assert await _count(services, select(func.count()).select_from(Document)) == 0
    rejections = await _count(
        services,
        select(func.count())
        .select_from(EvidenceRecord)
        .where(EvidenceRecord.type == "SubmissionRejection"),
    )
    assert rejections == 1
    assert problem["evidence_id"]


async def test_a_hub_that_checks_holds_until_its_dispatcher_forwards_once(
    client: AsyncClient, services: Services
) -> None:
    route = await make_route(services)
    hub = await token_for(client, route.hub.dispatcher)
    assert (await _set_rule(client, hub, route.hub.office.code, "check")).status_code == 200
    rules = await client.get(f"/api/v1/offices/{route.hub.office.code}/forwarding", headers=hub)
    assert rules.json()["rules"][0]["mode"] == "check"
    sender = await token_for(client, route.world.dispatcher)
    manifest, files = package(route.world.office.code, route.final.office.code)
    sent = await post_transmission(client, sender, manifest, files, via=route.hub.office.code)
    transmission_id = sent.json()["id"]

    await _drain(services)
    held = (await client.get(f"/api/v1/transmissions/{transmission_id}", headers=hub)).json()
    assert held["status"] == "held"
    assert [h["status"] for h in held["hops"]] == ["held"]
    assert held["hops"][0]["acknowledged_at"]
    not_the_hub = await client.post(
        f"/api/v1/transmissions/{transmission_id}/forward", headers=sender
    )
    forwarded = await client.post(f"/api/v1/transmissions/{transmission_id}/forward", headers=hub)
    again = await client.post(f"/api/v1/transmissions/{transmission_id}/forward", headers=hub)

    assert not_the_hub.status_code == 403
    assert forwarded.status_code == 200, forwarded.text
    assert [h["status"] for h in forwarded.json()["hops"]] == ["forwarded", "delivered"]
    assert forwarded.json()["hops"][0]["forwarded_by"] == f"user:{route.hub.dispatcher.id}"
    assert again.status_code == 409
    assert await _count(services, select(func.count()).select_from(TransmissionHop)) == 2


async def test_an_idempotency_key_replays_the_transmission_and_refuses_another_body(
    client: AsyncClient, services: Services
) -> None:
    route = await make_route(services)
    sender = await token_for(client, route.world.dispatcher)
    manifest, files = package(route.world.office.code, route.final.office.code)
    key = {"Idempotency-Key": "trn-1"}

    first = await post_transmission(client, sender, manifest, files, extra_headers=key)
    replay = await post_transmission(client, sender, manifest, files, extra_headers=key)
    other_manifest, other_files = package(
        route.world.office.code, route.final.office.code, documents=2
    )
    other = await post_transmission(client, sender, other_manifest, other_files, extra_headers=key)

    assert first.status_code == replay.status_code == 201
    assert replay.json()["id"] == first.json()["id"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 409
    assert await _count(services, select(func.count()).select_from(Transmission)) == 1


async def test_a_principal_of_an_unrelated_office_finds_nothing(
    client: AsyncClient, services: Services
) -> None:
    route = await make_route(services)
    sender = await token_for(client, route.world.dispatcher)
    manifest, files = package(route.world.office.code, route.final.office.code)
    sent = await post_transmission(client, sender, manifest, files, via=route.hub.office.code)
    await _drain(services)
    stranger_office = await receiver(services, "XO")
    outsiders = [
        await token_for(client, stranger_office.dispatcher),
        await token_for(client, stranger_office.clerk),
        await token_for(client, route.world.applicant),
    ]
    base = f"/api/v1/transmissions/{sent.json()['id']}"

    for outsider in outsiders:
        for path in (base, f"{base}/documents/0", f"{base}/documents/2/seal", f"{base}/proof"):
            answer = await client.get(path, headers=outsider)
            assert answer.status_code == 404, (path, answer.text)
        listed = await client.get("/api/v1/transmissions", headers=outsider)
        assert listed.json()["items"] == []
    # The sender's dispatcher sees it but may not have its documents (no pickup by offices).
    assert (await client.get(f"{base}/documents/0", headers=sender)).status_code == 403


async def test_the_hub_s_dispatcher_sees_and_forwards_a_held_transmission_in_the_workspace(
    client: AsyncClient, services: Services
) -> None:
    route = await make_route(services)
    hub = await token_for(client, route.hub.dispatcher)
    await _set_rule(client, hub, route.hub.office.code, "check")
    sender = await token_for(client, route.world.dispatcher)
    manifest, files = package(route.world.office.code, route.final.office.code)
    sent = await post_transmission(client, sender, manifest, files, via=route.hub.office.code)
    transmission_id = sent.json()["id"]
    await _drain(services)
    await log_in_page(client, route.hub.dispatcher)

    listed = await client.get("/office/transmissions")
    page = await client.get(f"/office/transmissions/{transmission_id}")
    token = FORM_TOKEN_FIELD.search(page.text)
    forwarded = await client.post(
        f"/office/transmissions/{transmission_id}/forward",
        data={"csrf_token": token.group(1) if token else ""},
    )
    after = await client.get(forwarded.headers["location"])
    proof = await client.get(f"/office/transmissions/{transmission_id}/proof")

    assert listed.status_code == 200 and NUMBER in listed.text
    assert 'href="/office/transmissions"' in listed.text  # the workspace links to it
    assert page.status_code == 200 and 'id="forward"' in page.text
    assert forwarded.status_code == 303
    assert 'id="forward"' not in after.text and "Forwarded." in after.text
    assert after.text.count("Receipt acknowledged by the hub") == 1
    assert verify_transmission_bundle(proof.content, trust_root=services.keys.root_cert).ok
    await log_in_page(client, route.final.clerk)  # a mailbox clerk is no office reader
    assert (await client.get(f"/office/transmissions/{transmission_id}")).status_code == 404


async def test_the_forwarding_cli_sets_and_prints_a_hub_s_rules(services: Services) -> None:
    route = await make_route(services)
    settings, code = services.settings, route.hub.office.code

    before = await run_cli(settings, "office", "forwarding", code)
    changed = await run_cli(
        settings, "--json", "office", "forwarding", code, "search-copy", "--mode", "check"
    )
    unknown = await run_cli(settings, "office", "forwarding", code, "gossip", "--mode", "check")
    half = await run_cli(settings, "office", "forwarding", code, "search-copy")

    assert before[0] == 0 and "every kind: automatic" in before[1]
    assert changed[0] == 0, changed[2]
    assert json.loads(changed[1])["rules"] == [{"kind": "search-copy", "mode": "check"}]
    assert unknown[0] != 0 and "kind" in unknown[2]
    assert half[0] != 0 and "--mode" in half[2]


async def test_the_audit_command_verifies_a_transmission_proof_offline(
    client: AsyncClient, services: Services, tmp_path
) -> None:
    route = await make_route(services)
    sender = await token_for(client, route.world.dispatcher)
    manifest, files = package(route.world.office.code, route.final.office.code, documents=1)
    sent = await post_transmission(client, sender, manifest, files, via=route.hub.office.code)
    await _drain(services)
    auditor = await token_for(client, route.world.auditor)
    proof = await client.get(f"/api/v1/transmissions/{sent.json()['id']}/proof", headers=auditor)
    (tmp_path / "proof.zip").write_bytes(proof.content)
    (tmp_path / "bad.zip").write_bytes(_tamper_hop_evidence(proof.content))
    root = services.settings.effective_key_dir / "root.crt"
    args = ("audit", "verify-transmission")

    good = await run_cli(services.settings, *args, str(tmp_path / "proof.zip"), "--root", str(root))
    bad = await run_cli(services.settings, *args, str(tmp_path / "bad.zip"), "--root", str(root))

    assert good[0] == 0, good[1] + good[2]
    assert "OK: the transmission" in good[1]
    assert bad[0] == 1 and "hop 1 bundle" in bad[1]


async def test_a_document_over_the_upload_limit_is_refused_with_413(
    client: AsyncClient, services: Services
) -> None:
    route = await make_route(services)
    sender = await token_for(client, route.world.dispatcher)
    manifest, files = package(route.world.office.code, route.final.office.code, documents=1)
    (name,) = files
    big = files[name] + b"\n%" + b"x" * services.settings.upload_limit_bytes
    entry = json.loads(manifest)
    entry["documents"][0]["sha256"] = hashlib.sha256(big).hexdigest()

    answer = await post_transmission(client, sender, json.dumps(entry).encode(), {name: big})

    assert answer.status_code == 413, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == ["documents[0].file"]
    await _nothing_written_but_one_rejection(services, answer.json())


async def test_a_transmission_without_a_manifest_is_refused_naming_it(
    client: AsyncClient, services: Services
) -> None:
    route = await make_route(services)
    sender = await token_for(client, route.world.dispatcher)
    _, files = package(route.world.office.code, route.final.office.code)

    parts = [("documents", (name, content, "application/pdf")) for name, content in files.items()]
    answer = await client.post("/api/v1/transmissions", headers=sender, files=parts)

    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == ["manifest"]
    await _nothing_written_but_one_rejection(services, answer.json())
