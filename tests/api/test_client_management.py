"""People register their systems as machine clients with scopes, never beyond their own roles;
tokens carry the scopes; a key is rolled over with two keys valid at once; a revoked client's
tokens are refused at once; each change is evidence."""

from __future__ import annotations

import jwt
from httpx import AsyncClient
from sqlmodel import select

from mailbox.models import EvidenceRecord, Grant
from mailbox.services import Services
from tests.factories import deliver, make_world, token_for
from tests.fixtures.machine_client import ClientKey, bearer, request_token


async def _register(client: AsyncClient, headers: dict[str, str], **body) -> dict:
    response = await client.post("/api/v1/clients", headers=headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def _evidence(services: Services, client_id: str) -> list[str]:
    async with services.db.session() as session:
        records = (await session.exec(select(EvidenceRecord).order_by(EvidenceRecord.seq))).all()
    return [r.type for r in records if r.details.get("client_id") == client_id]


async def test_owner_registers_a_client_whose_token_carries_its_scopes(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    key = ClientKey()
    made = await _register(
        client,
        owner,
        name="Patent system",
        role="viewer",
        scopes=["inbox:read", "documents:read"],
        account_id=world.account.id,
        public_key=key.public_pem,
    )
    assert made["scopes"] == ["documents:read", "inbox:read"]
    assert made["keys"] == [{"kid": key.kid, "created_at": made["keys"][0]["created_at"]}]
    response = await request_token(client, key.assertion(made["id"]))
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "documents:read inbox:read"
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["scope"] == "documents:read inbox:read"
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    assert (await client.get("/api/v1/inbox", headers=headers)).status_code == 200
    # Not registered for evidence: the proof of delivery is refused, naming the scope.
    delivery = await deliver(services, world)
    refused = await client.get(f"/api/v1/deliveries/{delivery.id}/proof", headers=headers)
    assert refused.status_code == 403
    assert refused.json()["type"] == "/problems/insufficient-scope"
    assert "evidence:read" in refused.json()["detail"]
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    listed = (await client.get("/api/v1/clients", headers=owner)).json()["items"]
    assert [c["id"] for c in listed] == [made["id"]]
    assert await _evidence(services, made["id"]) == ["ClientRegistered"]


async def test_a_token_asking_for_fewer_scopes_gets_only_those_and_more_is_refused(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    key = ClientKey()
    made = await _register(
        client,
        owner,
        name="Reader",
        role="viewer",
        scopes=["inbox:read", "documents:read"],
        account_id=world.account.id,
        public_key=key.public_pem,
    )
    narrow = await request_token(client, key.assertion(made["id"]), scope="documents:read")
    headers = {"Authorization": f"Bearer {narrow.json()['access_token']}"}
    assert (await client.get("/api/v1/inbox", headers=headers)).status_code == 403
    wide = await request_token(client, key.assertion(made["id"]), scope="inbox:read dispatch:write")
    assert wide.status_code == 400
    assert wide.json()["error"] == "invalid_scope"
    assert "dispatch:write" in wide.json()["detail"]


async def test_a_client_asking_for_more_than_its_owner_may_have_is_refused(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    dispatcher = await token_for(client, world.dispatcher)
    owner = await token_for(client, world.applicant)
    # Offices never pick up: a dispatcher's client may not read documents.
    office = await client.post(
        "/api/v1/clients",
        headers=dispatcher,
        json={
            "name": "Back office",
            "role": "dispatcher",
            "scopes": ["dispatch:write", "documents:read"],
            "office_id": world.office.id,
            "public_key": ClientKey().public_pem,
        },
    )
    assert office.status_code == 403, office.text
    assert office.json()["errors"] == [
        {
            "field": "scopes",
            "message": "documents:read is beyond what the role dispatcher and your own roles allow",
        }
    ]
    # A viewer client may not manage webhooks, even registered by the owner.
    viewer = await client.post(
        "/api/v1/clients",
        headers=owner,
        json={
            "name": "Reader",
            "role": "viewer",
            "scopes": ["inbox:read", "webhooks:manage"],
            "account_id": world.account.id,
            "public_key": ClientKey().public_pem,
        },
    )
    assert viewer.status_code == 403
    assert "webhooks:manage" in viewer.json()["detail"]
    # An auditor, who manages nothing, registers no client of the office.
    auditor = await client.post(
        "/api/v1/clients",
        headers=await token_for(client, world.auditor),
        json={
            "name": "Audit",
            "role": "auditor",
            "scopes": ["evidence:read"],
            "office_id": world.office.id,
            "public_key": ClientKey().public_pem,
        },
    )
    assert auditor.status_code == 403
    # Unknown scopes are a 422 naming them.
    unknown = await client.post(
        "/api/v1/clients",
        headers=owner,
        json={
            "name": "Odd",
            "role": "viewer",
            "scopes": ["everything"],
            "account_id": world.account.id,
            "public_key": ClientKey().public_pem,
        },
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "scopes"
    async with services.db.session() as session:
        assert not (await session.exec(select(EvidenceRecord))).all()


async def test_key_rollover_two_keys_work_and_the_removed_one_fails(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    dispatcher = await token_for(client, world.dispatcher)
    old, new = ClientKey(), ClientKey()
    made = await _register(
        client,
        dispatcher,
        name="Back office",
        role="dispatcher",
        scopes=["dispatch:write", "inbox:read"],
        office_id=world.office.id,
        public_key=old.public_pem,
    )
    client_id = made["id"]
    added = await client.post(
        f"/api/v1/clients/{client_id}/keys", headers=dispatcher, json={"public_key": new.public_pem}
    )
    assert added.status_code == 201, added.text
    assert [k["kid"] for k in added.json()["keys"]] == [old.kid, new.kid]
    # Both keys work, with or without naming the key.
    for key in (old, new):
        for named in (True, False):
            token = await request_token(client, key.assertion(client_id, kid=named))
            assert token.status_code == 200, token.text
    third = await client.post(
        f"/api/v1/clients/{client_id}/keys",
        headers=dispatcher,
        json={"public_key": ClientKey().public_pem},
    )
    assert third.status_code == 409
    removed = await client.delete(f"/api/v1/clients/{client_id}/keys/{old.kid}", headers=dispatcher)
    assert removed.status_code == 200
    assert [k["kid"] for k in removed.json()["keys"]] == [new.kid]
    for named in (True, False):
        refused = await request_token(client, old.assertion(client_id, kid=named))
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_client"
    assert (await request_token(client, new.assertion(client_id))).status_code == 200
    last = await client.delete(f"/api/v1/clients/{client_id}/keys/{new.kid}", headers=dispatcher)
    assert last.status_code == 409
    assert await _evidence(services, client_id) == [
        "ClientRegistered",
        "ClientKeyAdded",
        "ClientKeyRemoved",
    ]


async def test_a_revoked_clients_token_is_refused_at_once(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    key = ClientKey()
    made = await _register(
        client,
        owner,
        name="Old system",
        role="viewer",
        scopes=["inbox:read"],
        account_id=world.account.id,
        public_key=key.public_pem,
    )
    headers = await bearer(client, key, made["id"])
    assert (await client.get("/api/v1/inbox", headers=headers)).status_code == 200
    # Someone else's client is not even there.
    stranger = await token_for(client, world.stranger)
    assert (
        await client.delete(f"/api/v1/clients/{made['id']}", headers=stranger)
    ).status_code == 404
    revoked = await client.delete(f"/api/v1/clients/{made['id']}", headers=owner)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    after = await client.get("/api/v1/inbox", headers=headers)
    assert after.status_code == 401
    assert "revoked" in after.json()["detail"]
    assert (await request_token(client, key.assertion(made["id"]))).status_code == 400
    again = await client.delete(f"/api/v1/clients/{made['id']}", headers=owner)
    assert again.status_code == 200
    assert await _evidence(services, made["id"]) == ["ClientRegistered", "ClientRevoked"]


async def test_machine_clients_do_not_manage_clients(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    key = ClientKey()
    made = await _register(
        client,
        owner,
        name="Full",
        role="owner",
        scopes=["inbox:read", "documents:read", "evidence:read", "webhooks:manage", "events:read"],
        account_id=world.account.id,
        public_key=key.public_pem,
    )
    headers = await bearer(client, key, made["id"])
    listed = await client.get("/api/v1/clients", headers=headers)
    assert listed.status_code == 403
    assert listed.json()["type"] == "/problems/insufficient-scope"


async def test_a_client_loses_what_its_owner_loses(client: AsyncClient, services: Services) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    key = ClientKey()
    made = await _register(
        client,
        owner,
        name="Hooks",
        role="owner",
        scopes=["inbox:read", "webhooks:manage"],
        account_id=world.account.id,
        public_key=key.public_pem,
    )
    headers = await bearer(client, key, made["id"])
    assert (await client.get("/api/v1/webhooks", headers=headers)).status_code == 200
    # The person who registered it is now a mere viewer of the account.
    async with services.db.write() as session:
        grant = (
            await session.exec(
                select(Grant).where(
                    Grant.user_id == world.applicant.id, Grant.account_id == world.account.id
                )
            )
        ).one()
        grant.role = "viewer"
        session.add(grant)
    refused = await client.get("/api/v1/webhooks", headers=headers)
    assert refused.status_code == 403
    assert refused.json()["type"] == "/problems/insufficient-scope"
    assert (await client.get("/api/v1/inbox", headers=headers)).status_code == 200
