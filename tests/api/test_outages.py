"""Certified outages: an office's dispatcher records one through the API (the operator at the
command line); the service signs and timestamps a certificate (JSON and sealed PDF), writes it
into the evidence log, publishes it (API and page), and the deliveries it touches get the
extension their rule gives, recorded as evidence and said in the legal date's sentence."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from httpx import AsyncClient
from sqlmodel import col, select

from mailbox import clock
from mailbox.deliveries.clock_rules import (
    choose_clock_rule,
    set_office_calendar,
    set_office_time_zone,
)
from mailbox.deliveries.outages import record_outage, verify_certificate
from mailbox.deliveries.scans import run_legal_scans
from mailbox.models import EvidenceRecord
from mailbox.proof.check import EVIDENCE, verify_bundle
from mailbox.services import Services
from mailbox.signing.seal import validate_sealed_pdf
from tests.factories import deliver, make_world, token_for
from tests.fixtures.cli import run_cli
from tests.fixtures.db import both_backends

DISPATCHED = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)  # a Wednesday
RECORDED = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)


async def _berlin_office(services: Services, world, rule: str = "de-mail-v1") -> None:
    async with services.db.write() as session:
        await set_office_time_zone(session=session, office=world.office.code, zone="Europe/Berlin")
        await set_office_calendar(
            session=session, office=world.office.code, country="DE", subdivision="BY"
        )
        await choose_clock_rule(session=session, office=world.office.code, rule_id=rule)


async def _records(services: Services, **where) -> list[EvidenceRecord]:
    async with services.db.session() as session:
        query = select(EvidenceRecord).order_by(col(EvidenceRecord.seq))
        for name, value in where.items():
            query = query.where(getattr(EvidenceRecord, name) == value)
        return list((await session.exec(query)).all())


async def _legal(client: AsyncClient, world, delivery_id: str) -> dict:
    response = await client.get(
        f"/api/v1/deliveries/{delivery_id}", headers=await token_for(client, world.applicant)
    )
    assert response.status_code == 200, response.text
    return response.json()["legal_date"]


def _outage(office_id: str, **changes) -> dict:
    body = {
        "office_id": office_id,
        "from": "2026-12-07T08:00:00+01:00",
        "to": "2026-12-07T20:00:00+01:00",
        "affected": "Pickup: the mailbox did not answer",
    }
    return {**body, **changes}


@both_backends
async def test_an_outage_on_the_last_day_extends_the_deliveries_it_touches(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    other = await make_world(services)
    await _berlin_office(services, world)
    await _berlin_office(services, other)
    clock.freeze(DISPATCHED)
    touched = await deliver(services, world)
    elsewhere = await deliver(services, other)  # another office: its outage is not ours
    before = await _legal(client, world, touched.id)
    assert before["sentence"] == (
        "Deemed delivered on 7 Dec 2026 (Europe/Berlin) unless it is opened before: 3 days after "
        "it was made available on 2 Dec 2026, moved from Sat 5 Dec 2026 to Mon 7 Dec 2026 "
        "because the office was closed."
    )

    clock.freeze(RECORDED)
    dispatcher = await token_for(client, world.dispatcher)
    response = await client.post(
        "/api/v1/outages", headers=dispatcher, json=_outage(world.office.id)
    )

    assert response.status_code == 201, response.text
    outage = response.json()
    assert (outage["scope"], outage["office"], outage["deliveries_touched"]) == (
        "office",
        world.office.code,
        1,
    )
    assert (outage["from"], outage["to"]) == (
        "2026-12-07T07:00:00.000000Z",
        "2026-12-07T19:00:00.000000Z",
    )
    after = await _legal(client, world, touched.id)
    assert after["delivered_on"] == "2026-12-08"
    assert after["sentence"] == (
        "Deemed delivered on 8 Dec 2026 (Europe/Berlin): 3 days after it was made available on "
        "2 Dec 2026, moved from Sat 5 Dec 2026 to Mon 7 Dec 2026 because the office was closed, "
        f"extended to Tue 8 Dec 2026 because the service was out of order on 7 Dec 2026 "
        f"(outage {outage['id']}); it was not opened before."
    )
    (extension,) = await _records(services, delivery_id=touched.id, type="OutageExtension")
    details = extension.details
    assert details["outage_id"] == outage["id"]
    assert details["certificate_sha256"] == outage["certificate_sha256"]
    assert details["extended_to"] == "2026-12-08"
    legal = details["legal_date"]
    assert legal["calendar"]["id"] == f"{world.office.code}-DE-BY"
    assert legal["calendar"]["version"].startswith("holidays-0.109+")
    assert legal["days_skipped"] == ["2026-12-05", "2026-12-06"]
    assert [o["id"] for o in legal["outages"]] == [outage["id"]]
    assert legal["outages"][0]["from"] == "2026-12-07T07:00:00.000000Z"
    (certified,) = await _records(services, type="OutageCertified")
    assert certified.delivery_id is None
    assert certified.details["outage"]["certificate_sha256"] == outage["certificate_sha256"]
    assert not await _records(services, delivery_id=elsewhere.id, type="OutageExtension")
    assert (await _legal(client, other, elsewhere.id))["delivered_on"] == "2026-12-07"


async def test_an_outage_ending_on_a_friday_extends_to_the_monday(
    client: AsyncClient, services: Services
) -> None:
    """The first working day after an outage is the office calendar's."""
    world = await make_world(services)
    await _berlin_office(services, world)
    clock.freeze(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))  # Monday: due Thu 3 Dec
    delivery = await deliver(services, world)
    clock.freeze(RECORDED)
    response = await client.post(
        "/api/v1/outages",
        headers=await token_for(client, world.dispatcher),
        json=_outage(
            world.office.id, **{"from": "2026-12-03T10:00:00Z", "to": "2026-12-04T10:00:00Z"}
        ),
    )
    assert response.status_code == 201, response.text

    legal = await _legal(client, world, delivery.id)

    assert legal["delivered_on"] == "2026-12-07"
    assert (
        "extended to Mon 7 Dec 2026 because the service was out of order from 3 Dec 2026 to "
        "4 Dec 2026" in legal["sentence"]
    )


async def test_an_extended_delivery_is_deemed_delivered_on_the_new_day_and_its_proof_says_why(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    await _berlin_office(services, world)
    clock.freeze(DISPATCHED)
    delivery = await deliver(services, world)
    clock.freeze(datetime(2026, 12, 7, 21, 0, tzinfo=UTC))  # after the outage, the old due day
    outage = await record_outage(
        services,
        starts_at=datetime(2026, 12, 7, 7, 0, tzinfo=UTC),
        ends_at=datetime(2026, 12, 7, 19, 0, tzinfo=UTC),
        affected="Pickup",
        office=world.office.code,
        actor="operator",
    )

    not_yet = await run_legal_scans(services)
    clock.freeze(datetime(2026, 12, 8, 10, 0, tzinfo=UTC))
    now_due = await run_legal_scans(services)

    assert (not_yet.deemed_delivered, now_due.deemed_delivered) == (0, 1)
    (deemed,) = await _records(services, delivery_id=delivery.id, type="DeemedDelivery")
    assert deemed.details["legal_date"]["delivered_on"] == "2026-12-08"
    assert [o["id"] for o in deemed.details["legal_date"]["outages"]] == [outage.id]
    proof = await client.get(
        f"/api/v1/deliveries/{delivery.id}/proof", headers=await token_for(client, world.auditor)
    )
    assert proof.status_code == 200, proof.text
    report = verify_bundle(proof.content, trust_root=services.keys.root_cert)
    assert report.ok, report.failed
    with zipfile.ZipFile(io.BytesIO(proof.content)) as bundle:
        summary = json.loads(bundle.read(EVIDENCE))
    legal = summary["delivery"]["legal_date"]
    assert legal["calendar"]["id"] == f"{world.office.code}-DE-BY"
    assert legal["outages"][0]["certificate_sha256"] == outage.certificate_sha256
    assert "extended to Tue 8 Dec 2026" in legal["sentence"]
    types = [r["type"] for r in summary["records"]]
    assert "OutageExtension" in types


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"to": "2026-12-07T07:00:00+01:00"}, 422, "to"),  # before from
        ({"to": "2099-01-01T00:00:00Z"}, 422, "to"),  # not over yet
        ({"from": "2026-10-01T00:00:00Z"}, 422, "to"),  # longer than 31 days
        ({"from": "2026-12-07T08:00:00"}, 422, "from"),  # no offset
        ({"from": "yesterday"}, 422, "from"),
        ({"affected": "x" * 501}, 422, "affected"),
        ({"affected": "   "}, 422, "affected"),
        ({"office_id": "off_nonesuch"}, 404, None),
    ],
    ids=[
        "to-before-from",
        "future",
        "too-long",
        "no-offset",
        "not-a-time",
        "overlong-text",
        "empty-text",
        "unknown-office",
    ],
)
async def test_a_bad_outage_is_refused_with_a_problem_naming_the_field(
    client: AsyncClient, services: Services, changes: dict, status: int, field: str | None
) -> None:
    world = await make_world(services)
    clock.freeze(RECORDED)

    response = await client.post(
        "/api/v1/outages",
        headers=await token_for(client, world.dispatcher),
        json={**_outage(world.office.id), **changes},
    )

    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status and problem["detail"]
    if field is not None:
        assert field in [e["field"] for e in problem["errors"]]
    assert (await client.get("/api/v1/outages")).json()["items"] == []


async def test_only_the_office_dispatchers_record_its_outages(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    other = await make_world(services)
    clock.freeze(RECORDED)

    as_applicant = await client.post(
        "/api/v1/outages",
        headers=await token_for(client, world.applicant),
        json=_outage(world.office.id),
    )
    as_other_dispatcher = await client.post(
        "/api/v1/outages",
        headers=await token_for(client, other.dispatcher),
        json=_outage(world.office.id),
    )
    anonymous = await client.post("/api/v1/outages", json=_outage(world.office.id))

    assert as_applicant.status_code == 403
    assert as_other_dispatcher.status_code == 404  # another office is not even seen
    assert anonymous.status_code == 401


async def test_the_certificate_verifies_and_a_changed_one_does_not(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    clock.freeze(RECORDED)
    created = await client.post(
        "/api/v1/outages",
        headers=await token_for(client, world.dispatcher),
        json=_outage(world.office.id),
    )
    outage = created.json()

    as_json = await client.get(outage["certificate_url"])  # no token: published
    as_pdf = await client.get(outage["certificate_url"], params={"format": "pdf"})

    assert as_json.status_code == 200 and as_pdf.status_code == 200
    assert as_pdf.headers["content-type"] == "application/pdf"
    document = as_json.json()
    assert document["sha256"] == outage["certificate_sha256"]
    assert document["certificate"]["affected"] == "Pickup: the mailbox did not answer"
    keys = services.keys
    check = verify_certificate(
        document, evidence_cert=keys.evidence_cert, trust_root=keys.root_cert
    )
    assert check.valid
    changed = {**document, "certificate": {**document["certificate"], "to": "2026-12-07T08:00:01Z"}}
    forged = verify_certificate(
        changed, evidence_cert=keys.evidence_cert, trust_root=keys.root_cert
    )
    assert not forged.signature_valid and not forged.timestamp_valid
    other_signature = {
        **document,
        "signature": base64.b64encode(b"\x30\x06\x02\x01\x01\x02\x01\x01").decode(),
    }
    assert not verify_certificate(
        other_signature, evidence_cert=keys.evidence_cert, trust_root=keys.root_cert
    ).signature_valid
    carried = verify_certificate(document, trust_root=keys.root_cert)  # its own signer cert
    assert carried.valid and carried.signer_trusted
    sealed = validate_sealed_pdf(as_pdf.content, trust_root=keys.root_cert)
    assert sealed.ok, sealed
    unknown = await client.get("/api/v1/outages/out_nonesuch/certificate")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    bad_format = await client.get(outage["certificate_url"], params={"format": "docx"})
    assert bad_format.status_code in (400, 422)


async def test_the_list_and_the_page_are_public(client: AsyncClient, services: Services) -> None:
    world = await make_world(services)
    clock.freeze(RECORDED)
    dispatcher = await token_for(client, world.dispatcher)
    for start in ("2026-12-01T10:00:00Z", "2026-12-03T10:00:00Z"):
        end = start.replace("10:00", "11:00")
        response = await client.post(
            "/api/v1/outages",
            headers=dispatcher,
            json=_outage(
                world.office.id, **{"from": start, "to": end, "affected": "<b>Dispatch</b>"}
            ),
        )
        assert response.status_code == 201, response.text

    first = (await client.get("/api/v1/outages", params={"limit": 1})).json()
    second = (
        await client.get("/api/v1/outages", params={"limit": 1, "cursor": first["next_cursor"]})
    ).json()
    page = await client.get("/outages")

    assert [o["from"] for o in first["items"] + second["items"]] == [
        "2026-12-03T10:00:00.000000Z",
        "2026-12-01T10:00:00.000000Z",
    ]
    assert second["next_cursor"] is None
    assert page.status_code == 200
    assert first["items"][0]["id"] in page.text
    assert "&lt;b&gt;Dispatch&lt;/b&gt;" in page.text and "<b>Dispatch</b>" not in page.text
    assert f"Office {world.office.code}" in page.text


async def test_the_operator_certifies_a_service_wide_outage_and_sets_calendars_from_the_cli(
    services: Services, tmp_path: Path
) -> None:
    world = await make_world(services)
    settings = services.settings

    code, out, err = await run_cli(
        settings,
        "--json",
        "office",
        "calendar",
        world.office.code,
        "--country",
        "DE",
        "--subdivision",
        "BY",
        "--closed",
        "2026-12-24",
    )
    assert code == 0, err
    calendar = json.loads(out)
    assert calendar["calendar"]["id"] == f"{world.office.code}-DE-BY"
    assert calendar["closed_days"] == ["2026-12-24"]

    code, out, err = await run_cli(
        settings,
        "--json",
        "outage",
        "record",
        "--from",
        "2026-12-01T10:00:00Z",
        "--to",
        "2026-12-01T12:30:00Z",
        "--affected",
        "The whole service: database failover",
    )
    assert code == 0, err
    recorded = json.loads(out)
    assert (recorded["scope"], recorded["office"]) == ("service", None)

    pdf = tmp_path / "outage.pdf"
    code, _, err = await run_cli(
        settings, "outage", "certificate", recorded["id"], "--pdf", str(pdf)
    )
    assert code == 0, err
    assert validate_sealed_pdf(pdf.read_bytes(), trust_root=services.keys.root_cert).ok
    code, out, _ = await run_cli(settings, "--json", "outage", "list")
    assert [o["id"] for o in json.loads(out)["items"]] == [recorded["id"]]
    code, out, err = await run_cli(settings, "outage", "certificate", recorded["id"])
    assert code == 0, err
    certificate = tmp_path / "outage.json"
    certificate.write_text(out)
    root = str(settings.effective_key_dir / "root.crt")
    code, out, err = await run_cli(
        settings, "--json", "outage", "verify", str(certificate), "--root", root
    )
    assert (code, json.loads(out)["valid"]) == (0, True), err
    changed = json.loads(certificate.read_text())
    changed["certificate"]["affected"] = "Nothing at all"
    certificate.write_text(json.dumps(changed))
    code, out, _ = await run_cli(settings, "outage", "verify", str(certificate), "--root", root)
    assert code == 1
    assert "sha256_matches: FAILED" in out and "signature_valid: FAILED" in out
    code, _, err = await run_cli(settings, "outage", "verify", root, "--root", root)
    assert code == 2 and "is not an outage certificate" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (
                "outage",
                "record",
                "--from",
                "2026-12-01T12:00:00Z",
                "--to",
                "2026-12-01T10:00:00Z",
                "--affected",
                "x",
            ),
            "to: after from",
        ),
        (
            (
                "outage",
                "record",
                "--from",
                "2026-12-01T10:00:00",
                "--to",
                "2026-12-01T12:00:00Z",
                "--affected",
                "x",
            ),
            "needs its offset",
        ),
        (
            (
                "outage",
                "record",
                "--from",
                "2026-12-01T10:00:00Z",
                "--to",
                "2026-12-01T12:00:00Z",
                "--affected",
                "x",
                "--office",
                "NONESUCH",
            ),
            "No office NONESUCH",
        ),
        (
            (
                "outage",
                "record",
                "--from",
                "2026-12-01T10:00:00Z",
                "--to",
                "2026-12-01T12:00:00Z",
                "--affected",
                "x" * 501,
            ),
            "affected: 1-500 characters",
        ),
        (("office", "calendar", "{office}", "--country", "XX"), "No public holidays known"),
        (
            ("office", "calendar", "{office}", "--country", "DE", "--subdivision", "ZZ"),
            "has no subdivision 'ZZ'",
        ),
        (("office", "calendar", "{office}", "--closed", "24.12.2026"), "ISO dates"),
    ],
    ids=[
        "to-before-from",
        "no-offset",
        "unknown-office",
        "overlong-text",
        "unknown-country",
        "unknown-subdivision",
        "bad-date",
    ],
)
async def test_the_cli_refuses_bad_outages_and_calendars(
    services: Services, args: tuple[str, ...], message: str
) -> None:
    world = await make_world(services)

    code, out, err = await run_cli(
        services.settings, *(a.replace("{office}", world.office.code) for a in args)
    )

    assert code == 2, (out, err)
    assert message in err
    async with services.db.session() as session:
        assert not (
            await session.exec(
                select(EvidenceRecord).where(EvidenceRecord.type == "OutageCertified")
            )
        ).all()


def test_dates_used_by_these_tests_are_what_they_say() -> None:
    assert DISPATCHED.date() == date(2026, 12, 2) and DISPATCHED.weekday() == 2
    assert timedelta(days=5) < (RECORDED - DISPATCHED)
