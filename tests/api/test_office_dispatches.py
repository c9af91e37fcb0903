"""GET /api/v1/dispatches: an office's dispatches for its dispatchers and auditors, newest
first, keyset-paged, narrowed by each filter; bad filters are 422 problems naming the field."""

from __future__ import annotations

from datetime import timedelta

import pytest
from httpx import AsyncClient

from mailbox import clock
from mailbox.deliveries.dispatch import DispatchRequest, dispatch
from mailbox.deliveries.office_list import RECIPIENTS_LOOKED_UP
from mailbox.identity.admin import create_account
from mailbox.models import Delivery
from mailbox.operations.demo import demo_pdf
from mailbox.services import Services
from tests.factories import World, make_world, token_for
from tests.fixtures.db import both_backends

LIST = "/api/v1/dispatches"


async def send(
    services: Services,
    world: World,
    *,
    to: str | None = None,
    kind: str = "R71",
    dossier: str = "EP23123456.7",
    title: str = "Communication under Rule 71(3) EPC",
    days_ago: int = 0,
) -> Delivery:
    """Dispatch from the world's office as it was ``days_ago`` days ago."""
    clock.set_offset(timedelta(days=-days_ago))
    try:
        dispatched = await dispatch(
            services,
            DispatchRequest(
                office_id=world.office.id,
                recipient_account_id=to or world.account.id,
                kind_code=kind,
                dossier_number=dossier,
                title=title,
                filename="notice.pdf",
                pdf=demo_pdf(title),
            ),
            actor=f"user:{world.dispatcher.id}",
        )
    finally:
        clock.set_offset(timedelta(0))
    return dispatched.delivery


async def ids(client: AsyncClient, headers: dict[str, str], **params: object) -> list[str]:
    response = await client.get(LIST, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


@both_backends
async def test_dispatches_listed_newest_first_in_pages_for_dispatchers_and_auditors(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    sent = [await send(services, world, days_ago=5 - n, title=f"Notice {n}") for n in range(5)]
    newest_first = [d.id for d in reversed(sent)]
    dispatcher = await token_for(client, world.dispatcher)

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = (await client.get(LIST, headers=dispatcher, params=params)).json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == newest_first
    assert pages == 3

    first = (await client.get(LIST, headers=dispatcher)).json()["items"][0]
    assert first["recipient_name"] == world.account.name
    assert first["document"]["title"] == "Notice 4"
    assert first["legal_date"]["sentence"]
    assert await ids(client, await token_for(client, world.auditor)) == newest_first


async def test_people_of_no_office_or_another_office_get_an_empty_list(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    other = await make_world(services)
    await send(services, world)
    mine = await send(services, other)

    assert await ids(client, await token_for(client, world.applicant)) == []
    assert await ids(client, await token_for(client, other.dispatcher)) == [mine.id]
    auditor = await token_for(client, other.auditor)
    assert await ids(client, auditor, office_id=world.office.id) == []


@both_backends
async def test_each_filter_lists_only_the_dispatches_it_names(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    old = await send(services, world, kind="F2001", dossier="EP1", days_ago=30)
    week = await send(services, world, kind="R71", dossier="EP2", days_ago=8)
    fresh = await send(services, world, kind="R71", dossier="EP2")
    paper = await send(services, world, to=world.other_account.id, dossier="EP3", days_ago=2)
    applicant = await token_for(client, world.applicant)
    picked = await client.get(f"/api/v1/deliveries/{week.id}/document", headers=applicant)
    assert picked.status_code == 200
    headers = await token_for(client, world.dispatcher)
    today = clock.now().date()

    assert await ids(client, headers, status="paper_queued") == [paper.id]
    assert await ids(client, headers, status="picked_up") == [week.id]
    assert await ids(client, headers, kind="F2001") == [old.id]
    assert await ids(client, headers, dossier_number="EP2") == [fresh.id, week.id]
    assert await ids(client, headers, recipient=world.other_account.id) == [paper.id]
    name_part = world.other_account.name.split()[0].upper()  # "OTHER": any case
    assert await ids(client, headers, recipient=name_part) == [paper.id]
    assert await ids(client, headers, recipient="%") == []  # a wildcard is a character
    assert await ids(client, headers, dispatched_from=(today - timedelta(days=8)).isoformat()) == [
        fresh.id,
        paper.id,
        week.id,
    ]
    assert await ids(
        client,
        headers,
        dispatched_from=(today - timedelta(days=30)).isoformat(),
        dispatched_to=(today - timedelta(days=8)).isoformat(),
    ) == [week.id, old.id]
    assert await ids(client, headers, dispatched_to=(today - timedelta(days=9)).isoformat()) == [
        old.id
    ]
    # Made available 7+ days ago and still not opened: not the one picked up, not paper.
    assert await ids(client, headers, not_picked_up_after_days=7) == [old.id]
    assert await ids(client, headers, not_picked_up_after_days=31) == []
    assert await ids(client, headers, on_paper="true") == [paper.id]
    assert await ids(client, headers, on_paper="false") == [fresh.id, week.id, old.id]
    assert await ids(client, headers, kind="R71", dossier_number="EP2", status="available") == [
        fresh.id
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost_in_the_post"}, "status"),
        ({"dispatched_from": "2026-13-01"}, "dispatched_from"),
        ({"dispatched_to": "yesterday"}, "dispatched_to"),
        ({"dispatched_from": "2026-12-02", "dispatched_to": "2026-12-01"}, "dispatched_to"),
        ({"not_picked_up_after_days": "0"}, "not_picked_up_after_days"),
        ({"not_picked_up_after_days": "ten"}, "not_picked_up_after_days"),
        ({"on_paper": "maybe"}, "on_paper"),
        ({"cursor": "bm90LW91cnM"}, "cursor"),
        ({"limit": "0"}, "limit"),
    ],
)
async def test_bad_filter_is_a_422_problem_naming_the_field(
    client: AsyncClient, services: Services, params: dict[str, str], field: str
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    response = await client.get(LIST, headers=headers, params=params)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422
    assert field in [error["field"] for error in problem["errors"]], problem


async def test_a_name_part_shared_by_many_accounts_still_finds_their_dispatches(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    async with services.db.write() as session:
        many = [
            await create_account(session=session, name=f"Widget Corp {n}", postal_address="1 Way")
            for n in range(RECIPIENTS_LOOKED_UP + 1)
        ]
    sent = await send(services, world, to=many[7].id)
    await send(services, world)
    headers = await token_for(client, world.dispatcher)

    assert await ids(client, headers, recipient="widget corp") == [sent.id]  # read in order
    assert await ids(client, headers, recipient="Widget Corp 7") == [sent.id]  # by its index
    assert await ids(client, headers, recipient="Widget Corp 8") == []


async def test_the_farthest_days_are_a_range_like_any_other(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    sent = await send(services, world)
    headers = await token_for(client, world.dispatcher)
    every = {"dispatched_from": "0001-01-01", "dispatched_to": "9999-12-31"}

    assert await ids(client, headers, **every) == [sent.id]


async def test_listing_needs_a_token(client: AsyncClient) -> None:
    response = await client.get(LIST)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
