"""`python -m mailbox audit recompute BUNDLE.zip --root ROOT.pem`: the legal date recomputed
from a proof bundle alone (no database), after the bundle is verified; 0 when every recorded
date and sentence agree, 1 when one does not, 2 for a file that is no bundle, 3 for a bundle
that fails verification."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from httpx import AsyncClient

from mailbox import clock
from mailbox.deliveries.clock_rules import choose_clock_rule, set_office_time_zone
from mailbox.deliveries.scans import run_legal_scans
from mailbox.proof.recompute import recompute_bundle
from mailbox.services import Services
from mailbox.signing.records import cert_pem
from tests.factories import World, make_world, post_dispatch, token_for

ROOT = Path(__file__).resolve().parents[2]


async def _recompute(tmp_path: Path, services: Services, bundle: bytes) -> tuple[int, str, str]:
    """The command as an auditor runs it, in a process of its own with no database."""
    path, root = tmp_path / "proof.zip", tmp_path / "root.pem"
    path.write_bytes(bundle)
    root.write_text(cert_pem(services.keys.root_cert))
    env = {**os.environ, "MAILBOX_DATABASE_URL": "sqlite+aiosqlite:////nonexistent/no.db"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mailbox",
        "--json",
        "audit",
        "recompute",
        str(path),
        "--root",
        str(root),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, stdout.decode(), stderr.decode()


async def _bundle(client: AsyncClient, world: World, delivery_id: str) -> bytes:
    proof = await client.get(
        f"/api/v1/deliveries/{delivery_id}/proof", headers=await token_for(client, world.dispatcher)
    )
    assert proof.status_code == 200, proof.text
    return proof.content


def _rewrite(bundle: bytes, change) -> bytes:
    """``bundle`` with its evidence.json changed by ``change`` (everything else as it was)."""
    source = zipfile.ZipFile(io.BytesIO(bundle))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "evidence.json":
                body = json.loads(data)
                change(body)
                data = json.dumps(body).encode()
            target.writestr(name, data)
    return out.getvalue()


async def _epo_delivery_picked_up(client: AsyncClient, services: Services) -> tuple[World, str]:
    clock.freeze(datetime(2026, 11, 26, 23, 30, tzinfo=UTC))
    world = await make_world(services)
    async with services.db.write() as session:
        await choose_clock_rule(session=session, office=world.office.code, rule_id="epo-2023-v1")
        await set_office_time_zone(session=session, office=world.office.code, zone="Europe/Berlin")
    office = await token_for(client, world.dispatcher)
    created = await post_dispatch(client, office, world.account.id, document_date="2026-11-17")
    assert created.status_code == 201, created.text
    delivery_id = created.json()["id"]
    clock.freeze(datetime(2026, 11, 28, 10, 0, tzinfo=UTC))
    picked = await client.get(
        f"/api/v1/deliveries/{delivery_id}/document",
        headers=await token_for(client, world.applicant),
    )
    assert picked.status_code == 200
    return world, delivery_id


async def test_a_genuine_bundle_agrees_and_names_each_recorded_date(
    client: AsyncClient, services: Services, tmp_path: Path
) -> None:
    world, delivery_id = await _epo_delivery_picked_up(client, services)
    bundle = await _bundle(client, world, delivery_id)

    code, out, err = await _recompute(tmp_path, services, bundle)

    assert code == 0, out + err
    report = json.loads(out)
    assert report["verified"] is True and report["agrees"] is True
    wheres = [r["where"] for r in report["recomputed"]]
    assert any("ContentConsignment" in w for w in wheres)
    assert any("ContentHandover" in w for w in wheres)
    assert wheres[-1] == "the bundle's summary"
    summary = report["recomputed"][-1]
    assert summary["recorded"]["rule"] == {
        "id": "epo-2023-v1",
        "version": 1,
        "kind": "document-date",
        "days": 7,
        "closed_day_moves": True,
        "outage_extends": True,
    }
    assert summary["recorded"]["zone"] == "Europe/Berlin"
    # Made available 27 Nov 00:30 in Berlin (26 Nov in UTC): 10 days after the date on the
    # document, 3 more than the 7 the rule allows.
    assert summary["computed"]["counts_from"] == "2026-11-20"
    assert summary["computed"]["sentence"] == summary["recorded"]["sentence"]


async def test_a_deemed_delivery_recomputes_from_its_bundle_in_words(
    client: AsyncClient, services: Services, tmp_path: Path
) -> None:
    world = await make_world(services, deemed_days=3)
    created = await post_dispatch(
        client, await token_for(client, world.dispatcher), world.account.id
    )
    clock.set_offset(timedelta(days=4))
    assert (await run_legal_scans(services)).deemed_delivered == 1
    bundle = await _bundle(client, world, created.json()["id"])

    code, out, err = await _recompute_human(tmp_path, services, bundle)

    assert code == 0, out + err
    assert "✓ bundle verified against the given root" in out
    assert "DeemedDelivery" in out
    assert "it was not opened before." in out
    assert "AGREES: the legal clock gives the same date and sentence again for 3 recorded" in out


async def _recompute_human(tmp_path: Path, services: Services, bundle: bytes):
    path, root = tmp_path / "proof.zip", tmp_path / "root.pem"
    path.write_bytes(bundle)
    root.write_text(cert_pem(services.keys.root_cert))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mailbox",
        "audit",
        "recompute",
        str(path),
        "--root",
        str(root),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, stdout.decode(), stderr.decode()


async def test_a_summary_that_states_another_date_disagrees_with_exit_1(
    client: AsyncClient, services: Services, tmp_path: Path
) -> None:
    """The summary is not signed itself: it is recomputed, and compared with the sealed
    receipt and the signed records' events."""
    world, delivery_id = await _epo_delivery_picked_up(client, services)
    genuine = await _bundle(client, world, delivery_id)

    def later(body: dict) -> None:
        body["delivery"]["legal_date"]["counts_from"] = "2026-11-27"

    def other_sentence(body: dict) -> None:
        legal = body["delivery"]["legal_date"]
        legal["sentence"] = legal["sentence"].replace("20 Nov 2026", "27 Nov 2026")

    def other_events(body: dict) -> None:
        # The clock would agree (the EPO rule does not read the pickup), but the signed
        # handover record says another time.
        body["delivery"]["legal_date"]["events"]["picked_up_at"] = "2026-11-29T10:00:00.000000Z"

    for change, says in (
        (later, "counts_from: recorded '2026-11-27', recomputed '2026-11-20'"),
        (other_sentence, "the sealed receipt does not state this sentence"),
        (other_events, "the signed ContentHandover record says"),
    ):
        code, out, err = await _recompute(tmp_path, services, _rewrite(genuine, change))
        assert code == 1, out + err
        report = json.loads(out)
        assert report["verified"] is True and report["agrees"] is False
        summary = report["recomputed"][-1]
        assert summary["agrees"] is False
        assert any(says in p for p in summary["problems"]), summary["problems"]
        assert "Traceback" not in err


async def test_a_bundle_with_an_altered_record_is_not_trusted_exit_3(
    client: AsyncClient, services: Services, tmp_path: Path
) -> None:
    world, delivery_id = await _epo_delivery_picked_up(client, services)
    genuine = await _bundle(client, world, delivery_id)

    def altered(body: dict) -> None:
        consigned = next(r for r in body["records"] if r["type"] == "ContentConsignment")
        consigned["details"]["legal_date"]["counts_from"] = "2026-12-24"

    code, out, err = await _recompute(tmp_path, services, _rewrite(genuine, altered))

    assert code == 3, out + err
    report = json.loads(out)
    assert report["verified"] is False
    assert "record hashes" in report["failed_checks"]
    assert report["recomputed"] == []
    assert "Traceback" not in err


async def test_a_file_that_is_no_bundle_exits_2_with_one_line(
    services: Services, tmp_path: Path
) -> None:
    for content, says in (
        (b"not a zip at all", "not a readable ZIP file"),
        (_zip_without_evidence(), "evidence.json"),
    ):
        code, out, err = await _recompute(tmp_path, services, content)
        assert code == 2, out + err
        assert err.startswith("Error: Not a proof bundle") and says in err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def _zip_without_evidence() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("README.txt", "hello")
    return out.getvalue()


async def test_a_paper_deliverys_bundle_recomputes_its_summary(
    client: AsyncClient, services: Services
) -> None:
    """Served on paper: no signed record carries a legal date; the summary's, under the
    paper-posting rule, is recomputed alone; the bundle's README says how."""
    world = await make_world(services, edelivery=False)
    created = await post_dispatch(
        client, await token_for(client, world.dispatcher), world.account.id
    )
    assert created.json()["status"] == "paper_queued"
    bundle = await _bundle(client, world, created.json()["id"])

    report = await asyncio.to_thread(recompute_bundle, bundle, trust_root=services.keys.root_cert)

    assert report.agrees, report.as_dict()
    [summary] = report.results
    assert summary.where == "the bundle's summary"
    assert summary.recorded["rule"]["id"] == "paper-posting-v1"
    assert summary.computed["sentence"] == "Not delivered yet: the letter has not been posted."
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        readme = archive.read("README.txt").decode()
    assert f"audit recompute proof-{created.json()['id']}.zip --root root.pem" in readme
