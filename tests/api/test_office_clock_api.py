"""Offices choose their legal clock through the API: the shipped rules are listed with their
sources, an office's dispatchers choose the rule per document kind and the time zone, its
auditors read it, everyone else is told the office does not exist, and the next dispatch of
that kind is consigned under the chosen rule."""

from __future__ import annotations

from httpx import AsyncClient

from mailbox.deliveries.legal_clock import DEFAULT_RULE_ID, RULES
from mailbox.services import Services
from tests.factories import make_world, post_dispatch, token_for
from tests.fixtures.db import both_backends


async def test_the_shipped_rules_are_listed_with_their_parameters_and_sources(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)

    listed = await client.get(
        "/api/v1/clock-rules", headers=await token_for(client, world.applicant)
    )

    assert listed.status_code == 200
    body = listed.json()
    assert body["default_rule"] == DEFAULT_RULE_ID
    by_id = {rule["id"]: rule for rule in body["items"]}
    assert set(by_id) == set(RULES)
    assert by_id["epo-2023-v1"]["kind"] == "document-date"
    assert by_id["epo-2023-v1"]["closed_day_moves"] is True
    assert "Rule 126(2) EPC" in by_id["epo-2023-v1"]["source"]


@both_backends
async def test_a_dispatcher_chooses_the_rule_for_a_kind_and_the_next_dispatch_follows_it(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    dispatcher = await token_for(client, world.dispatcher)
    path = f"/api/v1/offices/{world.office.code}/clock"

    changed = await client.put(
        path,
        headers=dispatcher,
        json={"rule_id": "epct-availability-v1", "kind_code": "R71", "time_zone": "Europe/Paris"},
    )
    read = await client.get(path, headers=await token_for(client, world.auditor))
    r71 = await post_dispatch(client, dispatcher, world.account.id, kind_code="R71")
    other = await post_dispatch(client, dispatcher, world.account.id, kind_code="R94")

    assert changed.status_code == 200, changed.text
    assert read.json() == changed.json()
    assert changed.json()["time_zone"] == "Europe/Paris"
    assert changed.json()["choices"] == [{"kind_code": "R71", "rule_id": "epct-availability-v1"}]
    assert r71.json()["legal_date"]["rule_id"] == "epct-availability-v1"
    assert r71.json()["legal_date"]["zone"] == "Europe/Paris"
    assert other.json()["legal_date"]["rule_id"] == DEFAULT_RULE_ID


async def test_who_may_not_choose_is_refused_and_bad_choices_name_their_field(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    elsewhere = await make_world(services)
    path = f"/api/v1/offices/{world.office.code}/clock"
    dispatcher = await token_for(client, world.dispatcher)

    auditor = await client.put(
        path, headers=await token_for(client, world.auditor), json={"rule_id": "de-mail-v1"}
    )
    stranger = await client.get(path, headers=await token_for(client, elsewhere.dispatcher))
    applicant = await client.put(
        path, headers=await token_for(client, world.applicant), json={"rule_id": "de-mail-v1"}
    )
    unknown_rule = await client.put(path, headers=dispatcher, json={"rule_id": "moon-v1"})
    bad_zone = await client.put(path, headers=dispatcher, json={"time_zone": "Mars/Olympus"})
    unknown_field = await client.put(path, headers=dispatcher, json={"colour": "blue"})
    unchanged = await client.get(path, headers=dispatcher)

    assert auditor.status_code == 403
    assert stranger.status_code == 404 and applicant.status_code == 404
    assert unknown_rule.status_code == 422
    assert unknown_rule.json()["errors"][0]["field"] == "rule"
    assert "epo-2023-v1" in unknown_rule.json()["errors"][0]["message"]
    assert bad_zone.status_code == 422 and bad_zone.json()["errors"][0]["field"] == "zone"
    assert unknown_field.status_code in (400, 422)
    for refused in (auditor, stranger, unknown_rule, bad_zone, unknown_field):
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert unchanged.json()["choices"] == [] and unchanged.json()["time_zone"] == "UTC"
