"""Verification-link email bombing: the emails that verify an address are limited per address
(whichever account asks) and per account within a window; past the limit the API answers 429
with Retry-After and the page says why, no email is queued, and the limit is kept in the
database, so it holds for every process."""

from __future__ import annotations

from datetime import timedelta

import pytest
from httpx import AsyncClient
from sqlmodel import col, func, select

from mailbox import clock
from mailbox.config import Settings
from mailbox.models import OutboxMessage
from mailbox.services import Services
from tests.api.test_settings_pages import log_in, post_form
from tests.factories import make_world, token_for
from tests.fixtures.db import both_backends

PER_ADDRESS = 3
PER_ACCOUNT = 5
WINDOW = 3600


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "verification_emails_per_address": PER_ADDRESS,
            "verification_emails_per_account": PER_ACCOUNT,
            "verification_email_window_seconds": WINDOW,
        }
    )


def addresses_of(account_id: str) -> str:
    return f"/api/v1/accounts/{account_id}/notification-addresses"


async def verification_emails(services: Services) -> int:
    async with services.db.session() as session:
        count = select(func.count()).where(col(OutboxMessage.kind) == "email.verify_address")
        return (await session.exec(count)).one()


@both_backends
async def test_verification_resend_limited_per_address(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    added = await client.post(
        addresses_of(world.account.id), headers=owner, json={"email": "victim@example.com"}
    )
    assert added.status_code == 201, added.text
    resend = f"{addresses_of(world.account.id)}/{added.json()['id']}/verification"
    for _ in range(PER_ADDRESS - 1):
        assert (await client.post(resend, headers=owner)).status_code == 202
    assert await verification_emails(services) == PER_ADDRESS

    refused = await client.post(resend, headers=owner)
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"] == "/problems/too-many-attempts"
    assert "no email was sent" in refused.json()["detail"]
    assert 0 < int(refused.headers["Retry-After"]) <= WINDOW
    assert await verification_emails(services) == PER_ADDRESS

    # Another account cannot bomb the same address either.
    stranger = await token_for(client, world.stranger)
    again = await client.post(
        addresses_of(world.other_account.id), headers=stranger, json={"email": "victim@example.com"}
    )
    assert again.status_code == 429

    clock.set_offset(timedelta(seconds=WINDOW + 1))
    try:
        owner = await token_for(client, world.applicant)  # the first one has expired
        assert (await client.post(resend, headers=owner)).status_code == 202
    finally:
        clock.reset()


async def test_verification_resend_limited_per_account(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    for n in range(PER_ACCOUNT):
        created = await client.post(
            addresses_of(world.account.id), headers=owner, json={"email": f"a{n}@example.com"}
        )
        assert created.status_code == 201, created.text
    refused = await client.post(
        addresses_of(world.account.id), headers=owner, json={"email": "one-more@example.com"}
    )
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers
    assert await verification_emails(services) == PER_ACCOUNT
    # Nothing half-written: the refused address was not added.
    listed = await client.get(
        f"/api/v1/accounts/{world.account.id}/notification-settings", headers=owner
    )
    emails = [a["email"] for a in listed.json()["addresses"]]
    assert "one-more@example.com" not in emails


async def test_verification_resend_limit_shown_on_the_page(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    await log_in(client, world.applicant)
    added, _page = await post_form(client, world.account.id, "addresses", email="me@example.com")
    assert added.status_code == 303
    async with services.db.session() as session:
        [email] = (
            await session.exec(
                select(OutboxMessage).where(col(OutboxMessage.kind) == "email.verify_address")
            )
        ).all()
    address_id = email.payload["address_id"]
    for _ in range(PER_ADDRESS - 1):
        resent, _page = await post_form(client, world.account.id, f"addresses/{address_id}/resend")
        assert resent.status_code == 303
    refused, _page = await post_form(client, world.account.id, f"addresses/{address_id}/resend")
    assert refused.status_code == 429
    assert "Too many verification emails" in refused.text
    assert "no email was sent" in refused.text
    assert await verification_emails(services) == PER_ADDRESS
