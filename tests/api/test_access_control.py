"""Nobody reads what their grants do not cover, and other people's deliveries are 404."""

from __future__ import annotations

from httpx import AsyncClient

from mailbox.services import Services
from tests.factories import make_world, post_dispatch, token_for


async def test_stranger_gets_404_for_someone_elses_delivery(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    dispatched = (
        await post_dispatch(client, await token_for(client, world.dispatcher), world.account.id)
    ).json()
    stranger = await token_for(client, world.stranger)
    for path in (
        f"/api/v1/deliveries/{dispatched['id']}",
        f"/api/v1/deliveries/{dispatched['id']}/document",
        f"/api/v1/dispatches/{dispatched['id']}",
    ):
        response = await client.get(path, headers=stranger)
        assert response.status_code == 404, path
        assert response.json()["status"] == 404
    inbox = (await client.get("/api/v1/inbox", headers=stranger)).json()
    assert inbox["items"] == []
    # The stranger's look did not count as a pickup.
    applicant = await token_for(client, world.applicant)
    delivery = (
        await client.get(f"/api/v1/deliveries/{dispatched['id']}", headers=applicant)
    ).json()
    assert delivery["status"] == "available"


async def test_other_office_cannot_see_a_dispatch(client: AsyncClient, services: Services) -> None:
    world = await make_world(services)
    other = await make_world(services)
    dispatched = (
        await post_dispatch(client, await token_for(client, world.dispatcher), world.account.id)
    ).json()
    response = await client.get(
        f"/api/v1/dispatches/{dispatched['id']}", headers=await token_for(client, other.dispatcher)
    )
    assert response.status_code == 404


async def test_auditor_reads_timeline_but_download_is_not_a_pickup(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    dispatched = (
        await post_dispatch(client, await token_for(client, world.dispatcher), world.account.id)
    ).json()
    auditor = await token_for(client, world.auditor)
    view = await client.get(f"/api/v1/deliveries/{dispatched['id']}", headers=auditor)
    assert view.status_code == 200
    assert len(view.json()["timeline"]) == 2
    download = await client.get(f"/api/v1/deliveries/{dispatched['id']}/document", headers=auditor)
    assert download.status_code == 404


async def test_dispatcher_cannot_dispatch_as_another_office(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    other = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    response = await client.post(
        "/api/v1/dispatches",
        headers=headers,
        files={"file": ("a.pdf", b"%PDF-1.7", "application/pdf")},
        data={
            "recipient_account_id": world.account.id,
            "kind_code": "R71",
            "dossier_number": "EP1",
            "title": "t",
            "office_id": other.office.id,
        },
    )
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
