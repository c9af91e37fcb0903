"""Offices as recipients: an office opens a mailbox of its own, another office finds it in the
directory and serves it documents, and its receiving clerk reads them with the same pickup
evidence and proof of delivery as any applicant. Nothing sent to an office goes on paper."""

from __future__ import annotations

import io
import json
import zipfile

from httpx import AsyncClient

from mailbox.identity.admin import create_office, open_office_mailbox
from mailbox.models import Account, Role
from mailbox.proof.check import verify_bundle
from mailbox.services import Services
from tests.factories import add_member, make_world, post_dispatch, token_for
from tests.fixtures.cli import run_cli
from tests.fixtures.db import both_backends


async def _searching_authority(services: Services) -> Account:
    async with services.db.write() as session:
        await create_office(session=session, code="ISAJP", name="Searching Authority")
        mailbox, opened = await open_office_mailbox(
            session=session, office="isajp", email="intake@isa.example"
        )
        assert opened
    return mailbox


@both_backends
async def test_an_office_serves_another_office_which_picks_up_with_evidence(
    client: AsyncClient, services: Services
) -> None:
    sender = await make_world(services)
    mailbox = await _searching_authority(services)
    clerk = await add_member(services, mailbox, Role.EDITOR)
    dispatcher = await token_for(client, sender.dispatcher)

    listed = await client.get("/api/v1/offices/ISAJP", headers=dispatcher)
    assert listed.status_code == 200, listed.text
    assert listed.json()["mailbox_account_id"] == mailbox.id
    created = await post_dispatch(
        client,
        dispatcher,
        listed.json()["mailbox_account_id"],
        kind_code="SEARCH-COPY",
        dossier_number="PCT/EP2026/012345",
        title="Search copy",
    )
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "available"
    delivery_id = created.json()["id"]

    reader = await token_for(client, clerk)
    inbox = await client.get("/api/v1/inbox", headers=reader)
    assert [item["id"] for item in inbox.json()["items"]] == [delivery_id]
    document = await client.get(f"/api/v1/deliveries/{delivery_id}/document", headers=reader)
    assert document.status_code == 200
    assert document.headers["X-Evidence-Type"] == "ContentHandover"
    proof = await client.get(f"/api/v1/deliveries/{delivery_id}/proof", headers=reader)
    report = verify_bundle(proof.content, trust_root=services.keys.root_cert)
    assert report.ok, [f for f in report.findings if not f.passed]
    with zipfile.ZipFile(io.BytesIO(proof.content)) as bundle:
        assert "ContentHandover" in bundle.read("evidence.json").decode()


async def test_another_office_cannot_read_the_mailbox(
    client: AsyncClient, services: Services
) -> None:
    sender = await make_world(services)
    await _searching_authority(services)
    dispatcher = await token_for(client, sender.dispatcher)
    mailbox_id = (await client.get("/api/v1/offices/ISAJP", headers=dispatcher)).json()[
        "mailbox_account_id"
    ]
    created = await post_dispatch(client, dispatcher, mailbox_id)

    outsider = await token_for(client, sender.applicant)
    answer = await client.get(f"/api/v1/deliveries/{created.json()['id']}", headers=outsider)

    assert answer.status_code == 404


async def test_the_directory_needs_a_sign_in_and_knows_only_real_offices(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.applicant)

    anonymous = await client.get(f"/api/v1/offices/{world.office.code}")
    unknown = await client.get("/api/v1/offices/NOPE", headers=headers)
    without_mailbox = await client.get(f"/api/v1/offices/{world.office.code}", headers=headers)

    assert anonymous.status_code == 401
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert without_mailbox.json()["mailbox_account_id"] is None


async def test_office_mailbox_cli_opens_once_and_prints_it(services: Services) -> None:
    settings = services.settings
    assert (await run_cli(settings, "office", "create", "--code", "RO", "--name", "RO"))[0] == 0

    none_yet = await run_cli(settings, "office", "mailbox", "RO")
    opened = await run_cli(
        settings, "--json", "office", "mailbox", "RO", "--email", "in@ro.example"
    )
    again = await run_cli(settings, "office", "mailbox", "ro")
    unknown = await run_cli(settings, "office", "mailbox", "XX", "--email", "in@ro.example")

    assert none_yet[0] == 2 and "has no mailbox; open it with --email" in none_yet[2]
    assert opened[0] == 0, opened[2]
    account = json.loads(opened[1])
    assert account["edelivery_active"] is True
    assert again[0] == 0 and account["id"] in again[1]
    assert unknown[0] != 0 and "No office XX" in unknown[2]
