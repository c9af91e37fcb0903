"""Electronic delivery status of an account: consent given and withdrawn (each recorded as
evidence), a suspension lifted by consenting again, the last verified address removed, and the
accounts a user sees with their role and status."""

from __future__ import annotations

from httpx import AsyncClient, Response
from sqlmodel import col, select

from mailbox.identity.admin import grant_role
from mailbox.models import Account, EvidenceRecord, Role
from mailbox.services import Services
from tests.factories import add_member, make_world, post_dispatch, token_for
from tests.fixtures.db import both_backends


def settings_of(account_id: str) -> str:
    return f"/api/v1/accounts/{account_id}/notification-settings"


def addresses_of(account_id: str) -> str:
    return f"/api/v1/accounts/{account_id}/notification-addresses"


def assert_problem(response: Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


@both_backends
async def test_withdrawing_consent_sends_the_next_dispatch_to_paper(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    office = await token_for(client, world.dispatcher)
    consent = f"/api/v1/accounts/{world.account.id}/consent"

    withdrawn = await client.delete(consent, headers=owner)
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["edelivery_status"] == "inactive"
    assert withdrawn.json()["edelivery_consent_at"] is None
    paper = (await post_dispatch(client, office, world.account.id)).json()
    assert paper["status"] == "paper_queued"

    given = (await client.post(consent, headers=owner)).json()
    assert given["edelivery_status"] == "active"
    electronic = (await post_dispatch(client, office, world.account.id)).json()
    assert electronic["status"] == "available"

    async with services.db.session() as session:
        records = (
            await session.exec(
                select(EvidenceRecord)
                .where(col(EvidenceRecord.delivery_id).is_(None))
                .order_by(col(EvidenceRecord.seq))
            )
        ).all()
    # The world's consent was given by its factory, not recorded; these two were.
    assert [(r.type, r.actor) for r in records] == [
        ("ConsentWithdrawn", f"user:{world.applicant.id}"),
        ("ConsentGiven", f"user:{world.applicant.id}"),
    ]
    assert all(r.details["account_id"] == world.account.id for r in records)


async def test_consenting_again_lifts_a_suspension(client: AsyncClient, services: Services) -> None:
    world = await make_world(services)
    async with services.db.write() as session:
        account = await session.get(Account, world.account.id)
        assert account is not None
        account.edelivery_suspended_reason = "hard bounce from applicant@example.com"
        session.add(account)
    owner = await token_for(client, world.applicant)
    settings = (await client.get(settings_of(world.account.id), headers=owner)).json()
    assert settings["edelivery_status"] == "suspended"

    lifted = (
        await client.post(f"/api/v1/accounts/{world.account.id}/consent", headers=owner)
    ).json()
    assert lifted["edelivery_status"] == "active"
    assert lifted["edelivery_suspended_reason"] is None


async def test_removing_the_last_verified_address_ends_electronic_delivery(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    address_id = (await client.get(settings_of(world.account.id), headers=owner)).json()[
        "addresses"
    ][0]["id"]
    removed = await client.delete(f"{addresses_of(world.account.id)}/{address_id}", headers=owner)
    assert removed.status_code == 204
    settings = (await client.get(settings_of(world.account.id), headers=owner)).json()
    assert (settings["addresses"], settings["edelivery_status"]) == ([], "inactive")
    assert_problem(
        await client.delete(f"{addresses_of(world.account.id)}/{address_id}", headers=owner), 404
    )


@both_backends
async def test_accounts_lists_my_role_and_edelivery_status(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    other = await make_world(services, edelivery=False)
    member = await add_member(services, world.account, Role.VIEWER)
    async with services.db.write() as session:
        await grant_role(
            session=session, user_id=member.id, role=Role.EDITOR, account_id=other.account.id
        )
    headers = await token_for(client, member)

    seen, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/accounts", headers=headers, params=params)).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [(a["id"], a["role"], a["edelivery_status"]) for a in seen] == [
        (world.account.id, "viewer", "active"),
        (other.account.id, "editor", "inactive"),
    ]
    owner = await client.get("/api/v1/accounts", headers=await token_for(client, world.applicant))
    assert [a["role"] for a in owner.json()["items"]] == ["owner"]
