"""Notification settings of an account: addresses verified by an emailed link turn electronic
delivery on, only owners change anything, and bad input is one 422 problem naming every field.
Consent and the electronic delivery status are in test_edelivery_status.py."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

from httpx import AsyncClient, Response
from sqlmodel import col, select

from mailbox import clock
from mailbox.models import NotificationAddress, OutboxMessage, Role
from mailbox.notifications.settings import LANGUAGES
from mailbox.services import Services
from notifier.render import TemplateRenderer
from tests.factories import (
    add_member,
    consent_without_address,
    make_world,
    post_dispatch,
    token_for,
)
from tests.fixtures.db import both_backends

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
VERIFY = "/api/v1/notification-addresses/verify"
JSON = {"Accept": "application/json"}


def settings_of(account_id: str) -> str:
    return f"/api/v1/accounts/{account_id}/notification-settings"


def addresses_of(account_id: str) -> str:
    return f"/api/v1/accounts/{account_id}/notification-addresses"


def assert_problem(response: Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


async def verification_token(services: Services, address_id: str) -> str:
    """The token of the newest verification email queued for the address."""
    async with services.db.session() as session:
        rows = (
            await session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.kind == "email.verify_address")
                .order_by(col(OutboxMessage.created_at))
            )
        ).all()
    tokens = [row.payload["token"] for row in rows if row.payload["address_id"] == address_id]
    assert tokens, f"no verification email for {address_id}"
    return tokens[-1]


async def test_add_address_queues_a_verification_email(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    response = await client.post(
        addresses_of(world.account.id), headers=owner, json={"email": " Patents@Example.COM "}
    )
    assert response.status_code == 201, response.text
    address = response.json()
    assert address["email"] == "patents@example.com"
    assert address["verified"] is False
    assert address["verification_expires_at"].endswith("Z")

    async with services.db.session() as session:
        message = (
            await session.exec(
                select(OutboxMessage).where(OutboxMessage.kind == "email.verify_address")
            )
        ).one()
        stored = await session.get(NotificationAddress, address["id"])
    assert message.account_id == world.account.id
    assert message.payload["address_id"] == address["id"]
    assert message.payload["email"] == "patents@example.com"
    assert message.payload["expires_at"] == address["verification_expires_at"]
    token = message.payload["token"]
    assert len(token) >= 40
    # Only the token's hash is kept with the address, and the link lives 48 hours.
    assert stored is not None and stored.verify_expires_at is not None
    assert stored.verify_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert stored.verify_expires_at - clock.now() > timedelta(hours=47, minutes=59)


@both_backends
async def test_verifying_the_link_turns_electronic_delivery_on(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services, edelivery=False)
    await consent_without_address(services, world.account)
    office = await token_for(client, world.dispatcher)
    owner = await token_for(client, world.applicant)
    before = await post_dispatch(client, office, world.account.id)
    assert before.json()["status"] == "paper_queued"

    address = (
        await client.post(
            addresses_of(world.account.id), headers=owner, json={"email": "ip@example.com"}
        )
    ).json()
    settings = (await client.get(settings_of(world.account.id), headers=owner)).json()
    assert settings["edelivery_status"] == "inactive"  # not verified yet

    token = await verification_token(services, address["id"])
    page = await client.get(VERIFY, params={"token": token}, headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Address verified" in page.text
    assert "ip@example.com" in page.text

    settings = (await client.get(settings_of(world.account.id), headers=owner)).json()
    assert settings["edelivery_status"] == "active"
    assert settings["addresses"][0]["verified"] is True
    after = await post_dispatch(client, office, world.account.id)
    assert after.json()["status"] == "available"


async def test_verify_link_answers_json_when_asked_and_works_once(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    address = (
        await client.post(
            addresses_of(world.account.id), headers=owner, json={"email": "second@example.com"}
        )
    ).json()
    token = await verification_token(services, address["id"])

    verified = await client.get(VERIFY, params={"token": token}, headers=JSON)
    assert verified.status_code == 200, verified.text
    body = verified.json()
    assert body["address_id"] == address["id"]
    assert body["account_id"] == world.account.id
    assert body["verified_at"].endswith("Z")
    assert body["edelivery_status"] == "active"

    again = assert_problem(await client.get(VERIFY, params={"token": token}, headers=JSON), 404)
    assert "already used" in again["detail"]
    assert again["errors"][0]["field"] == "token"


async def test_expired_link_is_refused_with_a_clear_error(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services, edelivery=False)
    owner = await token_for(client, world.applicant)
    address = (
        await client.post(
            addresses_of(world.account.id), headers=owner, json={"email": "late@example.com"}
        )
    ).json()
    token = await verification_token(services, address["id"])
    clock.set_offset(timedelta(hours=48, seconds=1))

    problem = assert_problem(await client.get(VERIFY, params={"token": token}, headers=JSON), 422)
    assert "expired" in problem["detail"]
    assert problem["errors"] == [{"field": "token", "message": "expired"}]
    page = await client.get(VERIFY, params={"token": token})
    assert page.status_code == 422
    assert "Link invalid or expired" in page.text
    assert "expired" in page.text

    owner = await token_for(client, world.applicant)  # the first one expired meanwhile
    settings = (await client.get(settings_of(world.account.id), headers=owner)).json()
    assert settings["addresses"][0]["verified"] is False


async def test_unknown_link_is_refused(client: AsyncClient, services: Services) -> None:
    page = await client.get(VERIFY, params={"token": "not-a-token-we-issued"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "not valid" in page.text


async def test_new_link_replaces_the_old_one(client: AsyncClient, services: Services) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    address = (
        await client.post(
            addresses_of(world.account.id), headers=owner, json={"email": "again@example.com"}
        )
    ).json()
    old = await verification_token(services, address["id"])
    resent = await client.post(
        f"{addresses_of(world.account.id)}/{address['id']}/verification", headers=owner
    )
    assert resent.status_code == 202, resent.text
    new = await verification_token(services, address["id"])
    assert new != old
    assert_problem(await client.get(VERIFY, params={"token": old}, headers=JSON), 404)
    assert (await client.get(VERIFY, params={"token": new}, headers=JSON)).status_code == 200
    assert_problem(
        await client.post(
            f"{addresses_of(world.account.id)}/{address['id']}/verification", headers=owner
        ),
        409,
    )


async def test_viewer_reads_settings_but_cannot_change_them(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    viewer = await token_for(client, await add_member(services, world.account, Role.VIEWER))
    read = await client.get(settings_of(world.account.id), headers=viewer)
    assert read.status_code == 200
    address_id = read.json()["addresses"][0]["id"]

    for response in (
        await client.patch(settings_of(world.account.id), headers=viewer, json={"mode": "digest"}),
        await client.post(
            addresses_of(world.account.id), headers=viewer, json={"email": "v@example.com"}
        ),
        await client.delete(f"{addresses_of(world.account.id)}/{address_id}", headers=viewer),
        await client.post(f"/api/v1/accounts/{world.account.id}/consent", headers=viewer),
        await client.delete(f"/api/v1/accounts/{world.account.id}/consent", headers=viewer),
    ):
        problem = assert_problem(response, 403)
        assert "owner" in problem["detail"]
    unchanged = (await client.get(settings_of(world.account.id), headers=viewer)).json()
    assert unchanged["mode"] == "immediate"
    assert unchanged["edelivery_status"] == "active"


async def test_stranger_gets_404_for_someone_elses_settings(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    stranger = await token_for(client, world.stranger)
    assert_problem(await client.get(settings_of(world.account.id), headers=stranger), 404)
    assert_problem(
        await client.patch(settings_of(world.account.id), headers=stranger, json={}), 404
    )
    assert_problem(
        await client.post(f"/api/v1/accounts/{world.account.id}/consent", headers=stranger), 404
    )


async def test_bad_settings_are_refused_naming_each_field(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    response = await client.patch(
        settings_of(world.account.id),
        headers=owner,
        json={"mode": "weekly", "reminder_days": [0, 3, 99], "language": "de"},
    )
    problem = assert_problem(response, 422)
    assert {e["field"] for e in problem["errors"]} == {"mode", "reminder_days", "language"}
    too_many = await client.patch(
        settings_of(world.account.id), headers=owner, json={"reminder_days": [1, 2, 3, 4, 5, 6]}
    )
    assert [e["field"] for e in assert_problem(too_many, 422)["errors"]] == ["reminder_days"]
    bad_email = await client.post(
        addresses_of(world.account.id), headers=owner, json={"email": "not an address"}
    )
    assert [e["field"] for e in assert_problem(bad_email, 422)["errors"]] == ["email"]

    unchanged = (await client.get(settings_of(world.account.id), headers=owner)).json()
    assert (unchanged["mode"], unchanged["reminder_days"], unchanged["language"]) == (
        "immediate",
        None,
        "en",
    )


async def test_patch_changes_only_the_fields_given(client: AsyncClient, services: Services) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    path = settings_of(world.account.id)
    first = await client.patch(path, headers=owner, json={"mode": "digest"})
    assert first.status_code == 200, first.text
    second = (await client.patch(path, headers=owner, json={"reminder_days": [7, 3, 7]})).json()
    assert (second["mode"], second["reminder_days"], second["language"]) == ("digest", [3, 7], "en")
    third = (await client.patch(path, headers=owner, json={"language": "fr"})).json()
    assert (third["mode"], third["reminder_days"], third["language"]) == ("digest", [3, 7], "fr")
    off = (await client.patch(path, headers=owner, json={"reminder_days": []})).json()
    assert off["reminder_days"] == []


async def test_duplicate_address_conflicts(client: AsyncClient, services: Services) -> None:
    world = await make_world(services, email="applicant@example.com")
    owner = await token_for(client, world.applicant)
    response = await client.post(
        addresses_of(world.account.id), headers=owner, json={"email": "Applicant@Example.com"}
    )
    assert "already" in assert_problem(response, 409)["detail"]


def test_settings_languages_are_those_of_the_email_templates() -> None:
    assert set(LANGUAGES) == set(TemplateRenderer(TEMPLATES).languages)
