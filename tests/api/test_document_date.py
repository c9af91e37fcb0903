"""The date a document bears, stated by its office at dispatch: checked (an ISO date, not more
than a day ahead), stored with the delivery, shown by the API, the page and the proof bundle,
and read by the legal clock under the EPO rule (deemed notified on the date on the document;
time limits extended by the days it arrived later than 7 days after it)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from httpx import AsyncClient

from mailbox import clock
from mailbox.deliveries.clock_rules import choose_clock_rule
from mailbox.services import Services
from tests.factories import log_in_page, make_world, post_dispatch, token_for


def _day(at) -> str:
    return f"{at.day} {at:%b} {at.year}"


async def test_epo_rule_counts_from_the_stated_date_and_extends_by_the_excess(
    client: AsyncClient, services: Services
) -> None:
    clock.freeze(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))
    world = await make_world(services)
    async with services.db.write() as session:
        await choose_clock_rule(session=session, office=world.office.code, rule_id="epo-2023-v1")
    office = await token_for(client, world.dispatcher)

    created = await post_dispatch(client, office, world.account.id, document_date="2026-11-16")

    assert created.status_code == 201, created.text
    body = created.json()
    assert body["document"]["document_date"] == "2026-11-16"
    legal = body["legal_date"]
    assert (legal["delivered_on"], legal["counts_from"]) == ("2026-11-16", "2026-11-19")
    sentence = (
        "Deemed delivered on 16 Nov 2026 (UTC), the date on the document; it was made "
        "available on 26 Nov 2026, 10 days later, so time limits are extended by 3 days and "
        "count from 19 Nov 2026."
    )
    assert legal["sentence"] == sentence
    accepted, consigned = body["timeline"][0], body["timeline"][1]
    assert accepted["details"]["document_date"] == "2026-11-16"
    assert consigned["details"]["legal_date"]["events"]["document_date"] == "2026-11-16"
    assert consigned["details"]["legal_date"]["sentence"] == sentence

    await log_in_page(client, world.applicant)
    page = await client.get(f"/deliveries/{body['id']}")
    assert '<dd id="document-date">2026-11-16</dd>' in page.text
    assert sentence in page.text
    proof = await client.get(f"/api/v1/deliveries/{body['id']}/proof", headers=office)
    with zipfile.ZipFile(io.BytesIO(proof.content)) as archive:
        evidence = json.loads(archive.read("evidence.json"))
    assert evidence["document"]["document_date"] == "2026-11-16"
    assert evidence["delivery"]["legal_date"]["sentence"] == sentence


async def test_without_a_document_date_nothing_changes(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    created = await post_dispatch(
        client, await token_for(client, world.dispatcher), world.account.id
    )
    assert created.status_code == 201, created.text
    assert created.json()["document"]["document_date"] is None
    assert "document_date" not in created.json()["timeline"][0]["details"]


async def test_a_document_dated_tomorrow_is_accepted(
    client: AsyncClient, services: Services
) -> None:
    """An office east of UTC may already date its documents by tomorrow's calendar."""
    world = await make_world(services)
    tomorrow = (clock.now() + timedelta(days=1)).date().isoformat()
    created = await post_dispatch(
        client, await token_for(client, world.dispatcher), world.account.id, document_date=tomorrow
    )
    assert created.status_code == 201, created.text
    assert created.json()["document"]["document_date"] == tomorrow


@pytest.mark.parametrize(
    ("stated", "says"),
    [
        ("26/11/2026", "an ISO 8601 date, YYYY-MM-DD"),
        ("2026-02-30", "an ISO 8601 date, YYYY-MM-DD"),
        ("20261126", "an ISO 8601 date, YYYY-MM-DD"),
        ("tomorrow", "an ISO 8601 date, YYYY-MM-DD"),
        ("in two days", "an ISO 8601 date, YYYY-MM-DD"),
        ("", "an ISO 8601 date, YYYY-MM-DD"),
        (" 2026-11-26", "an ISO 8601 date, YYYY-MM-DD"),
        ("+2", "may not be later than"),
    ],
)
async def test_a_bad_document_date_is_a_422_problem_naming_the_field_and_is_recorded(
    client: AsyncClient, services: Services, stated: str, says: str
) -> None:
    world = await make_world(services)
    if stated == "+2":
        stated = (clock.now() + timedelta(days=2)).date().isoformat()
    refused = await post_dispatch(
        client, await token_for(client, world.dispatcher), world.account.id, document_date=stated
    )
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert refused.headers["content-type"].startswith("application/problem+json")
    [error] = [e for e in problem["errors"] if e["field"] == "document_date"]
    assert says in error["message"]
    assert problem["evidence_id"]
    inbox = await client.get("/api/v1/inbox", headers=await token_for(client, world.applicant))
    assert inbox.json()["items"] == []  # nothing was delivered
