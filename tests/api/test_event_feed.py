"""The event feed: each caller reads the events of the deliveries it may read, in log order,
resumes from its cursor without repeats, is told clearly when a cursor or limit is wrong, and
hears of a new event within a second when it long-polls."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import httpx
from httpx import AsyncClient

from mailbox.api.app import create_app
from mailbox.config import Settings
from mailbox.deliveries.dispatch import DispatchRequest, dispatch
from mailbox.notifications.feed_wait import watch_for
from mailbox.operations.demo import demo_pdf
from mailbox.services import Services
from tests.factories import World, deliver, make_world, token_for
from tests.fixtures.db import both_backends


async def events(client: AsyncClient, headers: dict[str, str], **params: object) -> dict:
    response = await client.get("/api/v1/events", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def all_events(client: AsyncClient, headers: dict[str, str], after: str = "") -> list[dict]:
    """Every event from ``after`` on, two at a time, following next_cursor."""
    seen: list[dict] = []
    while True:
        page = await events(client, headers, limit=2, **({"after": after} if after else {}))
        seen.extend(page["items"])
        if page["next_cursor"] == after:
            return seen
        after = page["next_cursor"]


async def deliver_to_other_account(services: Services, world: World) -> str:
    dispatched = await dispatch(
        services,
        DispatchRequest(
            office_id=world.office.id,
            recipient_account_id=world.other_account.id,
            kind_code="R71",
            dossier_number="EP24000001.1",
            title="Notice to another applicant",
            filename="notice.pdf",
            pdf=demo_pdf("Notice to another applicant"),
        ),
        actor=f"user:{world.dispatcher.id}",
    )
    return dispatched.delivery.id


def summary(items: list[dict]) -> list[tuple[str, str]]:
    return [(item["delivery_id"], item["type"]) for item in items]


async def test_each_caller_reads_only_the_events_of_deliveries_it_may_read(
    client: AsyncClient, services: Services
) -> None:
    world, elsewhere = await make_world(services), await make_world(services)
    mine = await deliver(services, world)
    theirs = await deliver_to_other_account(services, world)
    foreign = await deliver(services, elsewhere)
    applicant = await token_for(client, world.applicant)
    document = await client.get(f"/api/v1/deliveries/{mine.id}/document", headers=applicant)
    assert document.status_code == 200

    as_applicant = await all_events(client, applicant)
    as_stranger = await all_events(client, await token_for(client, world.stranger))
    as_dispatcher = await all_events(client, await token_for(client, world.dispatcher))
    as_auditor = await all_events(client, await token_for(client, world.auditor))
    as_other_office = await all_events(client, await token_for(client, elsewhere.dispatcher))

    assert summary(as_applicant) == [
        (mine.id, "delivery.available"),
        (mine.id, "delivery.picked_up"),
    ]
    # The other account has no verified address: its document goes to paper.
    assert summary(as_stranger) == [(theirs, "delivery.paper_queued")]
    office_view = [
        (mine.id, "delivery.available"),
        (theirs, "delivery.paper_queued"),
        (mine.id, "delivery.picked_up"),
    ]
    assert summary(as_dispatcher) == office_view
    assert summary(as_auditor) == office_view
    assert summary(as_other_office) == [(foreign.id, "delivery.available")]
    # The event id is the evidence record's id, as the delivery's timeline shows it.
    timeline = (await client.get(f"/api/v1/deliveries/{mine.id}", headers=applicant)).json()
    consignment = next(r for r in timeline["timeline"] if r["type"] == "ContentConsignment")
    assert as_applicant[0]["event_id"] == consignment["id"]
    assert as_applicant[0]["account_id"] == world.account.id
    assert as_applicant[0]["office_id"] == world.office.id
    assert as_applicant[0]["occurred_at"].endswith("Z")


async def test_a_stored_cursor_resumes_after_the_last_event_without_repeats(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    first = [await deliver(services, world) for _ in range(3)]
    page = await events(client, headers, limit=2)
    assert [e["delivery_id"] for e in page["items"]] == [d.id for d in first[:2]]
    stored = page["next_cursor"]
    assert stored == page["items"][-1]["cursor"]

    later = [await deliver(services, world) for _ in range(2)]
    resumed = await all_events(client, headers, after=stored)

    assert [e["delivery_id"] for e in resumed] == [first[2].id, *(d.id for d in later)]
    whole = await all_events(client, headers)
    assert whole == page["items"] + resumed
    assert len({e["event_id"] for e in whole}) == len(whole)
    # An empty page still moves the cursor to where the log stands, and stays there.
    end = await events(client, headers, after=whole[-1]["cursor"])
    assert end["items"] == []
    assert (await events(client, headers, after=end["next_cursor"]))["next_cursor"] == end[
        "next_cursor"
    ]


async def test_a_cursor_the_service_did_not_issue_is_a_400_problem(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    await deliver(services, world)
    headers = await token_for(client, world.applicant)
    good = (await events(client, headers))["next_cursor"]
    prefix, position, tag, mac = good.split(".")
    for bad in (
        f"{prefix}.{int(position) + 1}.{tag}.{mac}",  # another position with this MAC
        f"{prefix}.{position}.{tag[:-1]}{'y' if tag.endswith('x') else 'x'}.{mac}",  # other record
        f"{prefix}.{position}.{tag}.{mac[:-1]}{'B' if mac.endswith('A') else 'A'}",  # altered
        "not-a-cursor",
        "e1.1",
        good + "x" * 100,
        "e1.99999999999999999999.0.AAAAAAAAAAAAAAAAAAAAAA",
        f"{prefix}.{position}.{mac}",  # the tag left out
    ):
        response = await client.get("/api/v1/events", headers=headers, params={"after": bad})
        assert response.status_code == 400, (bad, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["type"] == "/problems/invalid-cursor"
        assert [e["field"] for e in problem["errors"]] == ["after"]


async def test_a_limit_or_wait_out_of_range_is_a_422_problem(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.applicant)
    for params, fields in (
        ({"limit": 0}, ["limit"]),
        ({"limit": 201}, ["limit"]),
        ({"wait": 31}, ["wait"]),
        ({"wait": -1}, ["wait"]),
        ({"limit": 0, "wait": 60}, ["limit", "wait"]),
    ):
        response = await client.get("/api/v1/events", headers=headers, params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in response.json()["errors"]] == fields
    response = await client.get("/api/v1/events", headers=headers, params={"limit": "many"})
    assert response.status_code in (400, 422)
    assert response.headers["content-type"].startswith("application/problem+json")


@both_backends
async def test_a_long_poll_answers_within_a_second_of_the_commit(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.applicant)
    start = (await events(client, headers))["next_cursor"]
    waiting = asyncio.create_task(
        client.get("/api/v1/events", headers=headers, params={"after": start, "wait": 20})
    )
    await asyncio.sleep(0.5)
    assert not waiting.done()  # nothing yet: it waits

    delivery = await deliver(services, world)
    committed = time.monotonic()
    response = await asyncio.wait_for(waiting, 10)
    latency = time.monotonic() - committed

    assert response.status_code == 200, response.text
    assert [e["delivery_id"] for e in response.json()["items"]] == [delivery.id]
    assert latency < 1.0, latency


async def test_a_long_poll_ignores_events_the_caller_may_not_see_and_ends_empty(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.applicant)
    start = (await events(client, headers))["next_cursor"]
    began = time.monotonic()
    waiting = asyncio.create_task(
        client.get("/api/v1/events", headers=headers, params={"after": start, "wait": 3})
    )
    await asyncio.sleep(0.3)
    await deliver_to_other_account(services, world)  # not the applicant's
    response = await asyncio.wait_for(waiting, 10)

    assert response.status_code == 200
    assert response.json()["items"] == []
    assert time.monotonic() - began >= 2.9  # it went on waiting until the end
    assert response.json()["next_cursor"] != start  # past the event it may not see


async def test_waiting_requests_beyond_the_limit_get_503_with_retry_after(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.applicant)
    watch_for(services).capacity = 1
    first = asyncio.create_task(client.get("/api/v1/events", headers=headers, params={"wait": 5}))
    await asyncio.sleep(0.3)

    refused = await client.get("/api/v1/events", headers=headers, params={"wait": 5})
    # Without wait nothing is held, so it is always answered.
    plain = await client.get("/api/v1/events", headers=headers)
    await deliver(services, world)
    answered = await asyncio.wait_for(first, 10)

    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "2"
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert plain.status_code == 200
    assert answered.status_code == 200 and len(answered.json()["items"]) == 1


async def test_a_cursor_of_a_log_that_was_rewound_is_a_409_problem(
    client: AsyncClient, services: Services, settings: Settings, sqlite_template: Path
) -> None:
    world = await make_world(services)
    await deliver(services, world)
    headers = await token_for(client, world.applicant)
    stored = (await events(client, headers))["next_cursor"]
    # The service restored from an older backup: the same keys, a log that does not hold
    # the records the client has read (here: a fresh one that took their positions again).
    restored_db = settings.data_dir / "restored.db"
    shutil.copy(sqlite_template, restored_db)
    restored = Services.start(
        Settings(
            data_dir=settings.data_dir / "restored",
            database_url=f"sqlite+aiosqlite:///{restored_db}",
            key_dir=settings.key_dir,
            sealing_workers=0,
            scheduler_enabled=False,
            public_base_url=settings.public_base_url,
        )
    )
    try:
        app = create_app(services=restored)
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://mailbox.test") as http:
            other = await make_world(restored)
            again = await token_for(http, other.applicant)
            ahead = await http.get("/api/v1/events", headers=again, params={"after": stored})
            for _ in range(3):
                await deliver(restored, other)
            taken = await http.get("/api/v1/events", headers=again, params={"after": stored})
    finally:
        await restored.close()

    for response in (ahead, taken):  # beyond the head; a position another record took
        assert response.status_code == 409, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in response.json()["errors"]] == ["after"]
