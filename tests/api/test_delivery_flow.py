"""The core walk: an office dispatches, the applicant finds it in the inbox, downloads the
sealed PDF (the legal pickup) and reads the timeline, on SQLite and on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from httpx import AsyncClient

from mailbox import clock
from mailbox.deliveries.inbox import MERGED_ACCOUNTS_MAX, list_inbox
from mailbox.identity.admin import add_verified_address, create_account, grant_role
from mailbox.identity.principal import load_principal
from mailbox.models import Role
from mailbox.services import Services
from mailbox.signing.seal import validate_sealed_pdf
from tests.factories import make_world, post_dispatch, token_for
from tests.fixtures.db import both_backends


@both_backends
async def test_dispatch_inbox_download_timeline_walk(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    office_headers = await token_for(client, world.dispatcher)
    applicant_headers = await token_for(client, world.applicant)

    created = await post_dispatch(client, office_headers, world.account.id)
    assert created.status_code == 201, created.text
    dispatch = created.json()
    assert dispatch["status"] == "available"
    assert [e["type"] for e in dispatch["timeline"]] == [
        "SubmissionAcceptance",
        "ContentConsignment",
    ]
    assert dispatch["available_at"].endswith("Z")

    inbox = (await client.get("/api/v1/inbox", headers=applicant_headers)).json()
    assert [item["id"] for item in inbox["items"]] == [dispatch["id"]]
    assert inbox["items"][0]["unread"] is True

    first = await client.get(
        f"/api/v1/deliveries/{dispatch['id']}/document", headers=applicant_headers
    )
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/pdf"
    assert first.headers["x-evidence-type"] == "ContentHandover"
    report = validate_sealed_pdf(first.content, trust_root=services.keys.root_cert)
    assert report.ok, report

    second = await client.get(
        f"/api/v1/deliveries/{dispatch['id']}/document", headers=applicant_headers
    )
    assert second.content == first.content
    assert second.headers["x-evidence-type"] == "ContentAccess"

    delivery = (
        await client.get(f"/api/v1/deliveries/{dispatch['id']}", headers=applicant_headers)
    ).json()
    assert delivery["status"] == "picked_up"
    assert delivery["unread"] is False
    assert [e["type"] for e in delivery["timeline"]] == [
        "SubmissionAcceptance",
        "ContentConsignment",
        "ContentHandover",
        "ContentAccess",
    ]
    handover = delivery["timeline"][2]
    assert handover["actor"] == f"user:{world.applicant.id}"
    assert handover["actor_ip"] == "203.0.113.7"

    office_view = (
        await client.get(f"/api/v1/dispatches/{dispatch['id']}", headers=office_headers)
    ).json()
    assert office_view["status"] == "picked_up"
    assert office_view["picked_up_at"] == delivery["picked_up_at"]


async def test_inbox_is_newest_first_and_paginates_with_cursor(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    office_headers = await token_for(client, world.dispatcher)
    applicant_headers = await token_for(client, world.applicant)
    ids = []
    for n in range(5):
        response = await post_dispatch(
            client, office_headers, world.account.id, dossier_number=f"EP{n}", title=f"Doc {n}"
        )
        ids.append(response.json()["id"])

    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/inbox", headers=applicant_headers, params=params)).json()
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))


@both_backends
async def test_inbox_over_several_accounts_pages_newest_first_without_gaps_or_repeats(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    async with services.db.write() as session:
        branches = []
        for n in (1, 2):
            branch = await create_account(
                session=session, name=f"Branch {n}", postal_address="3 Side Street", consent=True
            )
            await add_verified_address(
                session=session, account=branch, email=f"branch{n}@example.com"
            )
            await grant_role(
                session=session, user_id=world.applicant.id, role=Role.VIEWER, account_id=branch.id
            )
            branches.append(branch)
    accounts = [world.account.id, *(b.id for b in branches)]
    office_headers = await token_for(client, world.dispatcher)
    start = clock.now()
    made: list[tuple[int, str, str]] = []  # (minute, id, account)
    for minute in range(5):
        # Interleaved over the accounts, three at each instant: ties fall to the id.
        clock.freeze(start + timedelta(minutes=minute))
        for k in range(3):
            account = accounts[(minute + k) % 3]
            response = await post_dispatch(client, office_headers, account, dossier_number="EP7")
            made.append((minute, response.json()["id"], account))
    newest_first = sorted(made, reverse=True)
    applicant_headers = await token_for(client, world.applicant)

    async def walk(**filters: str) -> list[str]:
        seen, cursor = [], None
        while True:
            params = {"limit": 2, **filters, **({"cursor": cursor} if cursor else {})}
            response = await client.get("/api/v1/inbox", headers=applicant_headers, params=params)
            page = response.json()
            seen.extend(item["id"] for item in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                return seen

    everything = [delivery_id for _, delivery_id, _ in newest_first]
    assert await walk() == everything
    assert await walk(unread="true") == everything
    assert await walk(dossier_number="EP7") == everything
    assert await walk(account_id=branches[0].id) == [
        delivery_id for _, delivery_id, account in newest_first if account == branches[0].id
    ]

    # Past MERGED_ACCOUNTS_MAX accounts the inbox is read in one scan: the same pages.
    async with services.db.session() as session:
        principal = await load_principal(session, world.applicant.id)
    others = {f"acc_{n}": frozenset({"viewer"}) for n in range(MERGED_ACCOUNTS_MAX)}
    principal = replace(principal, account_roles={**principal.account_roles, **others})
    seen, cursor = [], None
    while True:
        async with services.db.session() as session:
            page = await list_inbox(session=session, principal=principal, limit=2, cursor=cursor)
        seen.extend(view.delivery.id for view in page.items)
        if (cursor := page.next_cursor) is None:
            break
    assert seen == everything


async def test_inbox_filters_unread_and_dossier(client: AsyncClient, services: Services) -> None:
    world = await make_world(services)
    office_headers = await token_for(client, world.dispatcher)
    applicant_headers = await token_for(client, world.applicant)
    a = (await post_dispatch(client, office_headers, world.account.id, dossier_number="EP1")).json()
    b = (await post_dispatch(client, office_headers, world.account.id, dossier_number="EP2")).json()
    await client.get(f"/api/v1/deliveries/{a['id']}/document", headers=applicant_headers)

    unread = (await client.get("/api/v1/inbox?unread=true", headers=applicant_headers)).json()
    assert [i["id"] for i in unread["items"]] == [b["id"]]
    read = (await client.get("/api/v1/inbox?unread=false", headers=applicant_headers)).json()
    assert [i["id"] for i in read["items"]] == [a["id"]]
    by_dossier = (
        await client.get("/api/v1/inbox?dossier_number=EP2", headers=applicant_headers)
    ).json()
    assert [i["id"] for i in by_dossier["items"]] == [b["id"]]


async def test_idempotency_key_replays_the_first_dispatch(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    key = {"Idempotency-Key": "batch-7-item-1"}
    first = await post_dispatch(client, headers, world.account.id, extra_headers=key)
    again = await post_dispatch(client, headers, world.account.id, extra_headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"

    applicant_headers = await token_for(client, world.applicant)
    inbox = (await client.get("/api/v1/inbox", headers=applicant_headers)).json()
    assert len(inbox["items"]) == 1

    different = await post_dispatch(
        client, headers, world.account.id, extra_headers=key, title="Another document"
    )
    assert different.status_code == 409
    assert different.headers["content-type"].startswith("application/problem+json")


async def test_account_without_edelivery_goes_to_paper(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services, edelivery=False)
    headers = await token_for(client, world.dispatcher)
    response = await post_dispatch(client, headers, world.account.id)
    body = response.json()
    assert response.status_code == 201
    assert body["status"] == "paper_queued"
    assert body["available_at"] is None
    assert [e["type"] for e in body["timeline"]] == ["SubmissionAcceptance", "RelayToNonERDS"]
    applicant_headers = await token_for(client, world.applicant)
    inbox = (await client.get("/api/v1/inbox", headers=applicant_headers)).json()
    assert inbox["items"] == []


async def test_altered_blob_is_never_served_and_is_not_a_pickup(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    dispatched = (
        await post_dispatch(client, await token_for(client, world.dispatcher), world.account.id)
    ).json()
    blob_id = dispatched["document"]["sealed_sha256"]
    path = next(services.settings.effective_blob_dir.rglob(blob_id))
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))

    applicant = await token_for(client, world.applicant)
    response = await client.get(
        f"/api/v1/deliveries/{dispatched['id']}/document", headers=applicant
    )
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert b"%PDF" not in response.content
    delivery = (
        await client.get(f"/api/v1/deliveries/{dispatched['id']}", headers=applicant)
    ).json()
    assert delivery["status"] == "available"
    assert "ContentHandover" not in [e["type"] for e in delivery["timeline"]]
