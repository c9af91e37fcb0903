"""Rules of the legal clock chosen per office and document kind: a dispatch follows the rule
of its kind (else the office's, else the default rule with the office's deemed-delivery days);
the API shows the rule and its sentence; consignment, pickup and deemed delivery record the
rule and the computed date in their evidence; the deemed-delivery scan follows the rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from httpx import AsyncClient
from sqlmodel import col, select

from mailbox import clock
from mailbox.deliveries.clock_rules import choose_clock_rule, set_office_time_zone
from mailbox.deliveries.scans import run_legal_scans
from mailbox.models import EvidenceRecord
from mailbox.services import Services
from tests.factories import deliver, make_world, token_for


def _day(at) -> str:
    return f"{at.day} {at:%b} {at.year}"


async def _choose(services: Services, office: str, rule: str, kind: str | None = None) -> None:
    async with services.db.write() as session:
        await choose_clock_rule(session=session, office=office, rule_id=rule, kind_code=kind)


async def _details(services: Services, delivery_id: str) -> dict[str, dict]:
    async with services.db.session() as session:
        rows = await session.exec(
            select(EvidenceRecord)
            .where(EvidenceRecord.delivery_id == delivery_id)
            .order_by(col(EvidenceRecord.seq))
        )
        return {r.type: r.details for r in rows.all()}


async def _legal(client: AsyncClient, world, delivery_id: str) -> dict:
    response = await client.get(
        f"/api/v1/deliveries/{delivery_id}", headers=await token_for(client, world.applicant)
    )
    assert response.status_code == 200, response.text
    return response.json()["legal_date"]


async def test_kind_rule_beats_office_rule_beats_default(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services, deemed_days=4)
    default = await deliver(services, world, dossier_number="EP1", kind_code="R71")
    await _choose(services, world.office.code, "epct-availability-v1")
    await _choose(services, world.office.id, "de-mail-v1", kind="R71")
    by_kind = await deliver(services, world, dossier_number="EP2", kind_code="R71")
    by_office = await deliver(services, world, dossier_number="EP3", kind_code="R70")

    first = await _legal(client, world, default.id)
    assert (first["rule_id"], first["rule_version"]) == ("pickup-or-n-days-v1", 1)
    assert first["sentence"] == (  # deemed_delivery_days stays the N of the default rule
        f"Deemed delivered on {_day(default.available_at + timedelta(days=4))} (UTC) unless it "
        f"is opened before: 4 days after it was made available on {_day(default.available_at)}."
    )
    second = await _legal(client, world, by_kind.id)
    assert second["rule_id"] == "de-mail-v1"
    assert "3 days after it was made available" in second["sentence"]
    third = await _legal(client, world, by_office.id)
    assert third["rule_id"] == "epct-availability-v1"
    assert third["settled"] is True and third["basis"] == "availability"
    assert third["sentence"] == (
        f"Delivered on {_day(by_office.available_at)} (UTC), the day it was made available."
    )
    consigned = (await _details(services, by_kind.id))["ContentConsignment"]
    assert consigned["legal_date"]["rule"] == {
        "id": "de-mail-v1",
        "version": 1,
        "kind": "pickup-or-n-days",
        "days": 3,
        "closed_day_moves": True,
        "outage_extends": True,
    }
    assert consigned["deemed_due_at"].startswith(
        (by_kind.available_at + timedelta(days=3)).date().isoformat()
    )


async def test_deemed_delivery_and_pickup_record_rule_and_date_in_their_evidence(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services, deemed_days=10)
    await _choose(services, world.office.code, "send-it-v1")
    waiting = await deliver(services, world, dossier_number="EP1")
    await _choose(services, world.office.code, "epct-availability-v1")
    available = await deliver(services, world, dossier_number="EP2")

    clock.set_offset(timedelta(days=8))
    report = await run_legal_scans(services)

    assert report.deemed_delivered == 1  # availability: delivered at once, nothing to deem
    deemed = (await _details(services, waiting.id))["DeemedDelivery"]
    due = (waiting.available_at + timedelta(days=7)).date()
    assert deemed["legal_date"]["rule"]["id"] == "send-it-v1"
    assert deemed["legal_date"]["delivered_on"] == due.isoformat()
    assert deemed["legal_date"]["sentence"] == (await _legal(client, world, waiting.id))["sentence"]
    assert "DeemedDelivery" not in await _details(services, available.id)

    pickup = await client.get(
        f"/api/v1/deliveries/{available.id}/document",
        headers=await token_for(client, world.applicant),
    )
    assert pickup.status_code == 200
    handover = (await _details(services, available.id))["ContentHandover"]
    assert handover["legal_date"]["rule"]["id"] == "epct-availability-v1"
    assert handover["legal_date"]["delivered_on"] == available.available_at.date().isoformat()
    assert (await _legal(client, world, available.id))["sentence"] == (
        f"Delivered on {_day(available.available_at)} (UTC), the day it was made available."
    )


async def test_a_pickup_at_the_last_second_of_the_office_day_counts_on_that_day(
    client: AsyncClient, services: Services
) -> None:
    """23:59:59 in New York on 27 Nov 2026 is 04:59:59 UTC on 28 Nov: the office's day counts."""
    world = await make_world(services, deemed_days=10)
    async with services.db.write() as session:
        await set_office_time_zone(
            session=session, office=world.office.code, zone="America/New_York"
        )
    clock.freeze(datetime(2026, 11, 26, 15, 0, tzinfo=UTC))
    delivery = await deliver(services, world)
    last_second = datetime(2026, 11, 27, 23, 59, 59, tzinfo=ZoneInfo("America/New_York"))
    clock.freeze(last_second)
    applicant = await token_for(client, world.applicant)
    pickup = await client.get(f"/api/v1/deliveries/{delivery.id}/document", headers=applicant)
    assert pickup.status_code == 200

    legal = await _legal(client, world, delivery.id)
    assert legal["sentence"] == "Delivered on 27 Nov 2026 (America/New_York), when it was opened."
    assert (legal["delivered_on"], legal["zone"]) == ("2026-11-27", "America/New_York")
    handover = (await _details(services, delivery.id))["ContentHandover"]
    assert handover["legal_date"]["events"]["picked_up_at"] == "2026-11-28T04:59:59.000000Z"
    assert handover["legal_date"]["delivered_on"] == "2026-11-27"


async def test_a_paper_delivery_follows_the_paper_rule(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services, edelivery=False)
    delivery = await deliver(services, world)

    legal = await _legal(client, world, delivery.id)

    assert delivery.status == "paper_queued"
    assert (legal["rule_id"], legal["settled"]) == ("paper-posting-v1", False)
    assert legal["sentence"] == "Not delivered yet: the letter has not been posted."
