"""Machine clients get tokens with a signed client assertion (private_key_jwt, RFC 7523) and
then use the same API as people; a bad assertion gets a clear invalid_client problem."""

from __future__ import annotations

import uuid
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from httpx import AsyncClient
from sqlmodel import select

from mailbox import clock
from mailbox.clock import now
from mailbox.identity.clients import ASSERTION_TYPE, register_client
from mailbox.models import ClientAssertionUse, Role
from mailbox.services import Services
from tests.factories import make_world, post_dispatch, token_for
from tests.fixtures.db import both_backends

TOKEN_URL = "http://mailbox.test/api/v1/auth/token"


def _key_pair() -> tuple[ec.EllipticCurvePrivateKey, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, pem.decode()


def _assertion(key, client_id: str, **overrides) -> str:
    moment = now()
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_URL,
        "exp": int((moment + timedelta(seconds=120)).timestamp()),
        "iat": int(moment.timestamp()),
        "jti": uuid.uuid4().hex,
        **overrides,
    }
    # An override of None leaves the claim out.
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, key, algorithm="ES256")


async def _client_token(client: AsyncClient, assertion: str):
    return await client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        },
    )


async def test_office_system_dispatches_with_a_client_assertion(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    key, pem = _key_pair()
    async with services.db.write() as session:
        registered = await register_client(
            session=session,
            signer=services.evidence,
            name="Office back end",
            role=Role.DISPATCHER,
            public_key_pem=pem,
            office_id=world.office.id,
        )
    response = await _client_token(client, _assertion(key, registered.client.id))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    headers = {"Authorization": f"Bearer {body['access_token']}"}

    dispatched = await post_dispatch(client, headers, world.account.id)
    assert dispatched.status_code == 201, dispatched.text
    acceptance = dispatched.json()["timeline"][0]
    assert acceptance["actor"] == f"client:{registered.client.id}"

    # The client acts only as what it was registered for: it has no inbox.
    inbox = await client.get("/api/v1/inbox", headers=headers)
    assert inbox.json()["items"] == []


async def test_applicant_system_reads_its_inbox(client: AsyncClient, services: Services) -> None:
    world = await make_world(services)
    await post_dispatch(client, await token_for(client, world.dispatcher), world.account.id)
    key, pem = _key_pair()
    async with services.db.write() as session:
        registered = await register_client(
            session=session,
            signer=services.evidence,
            name="Patent management system",
            role=Role.VIEWER,
            public_key_pem=pem,
            account_id=world.account.id,
        )
    token = (await _client_token(client, _assertion(key, registered.client.id))).json()[
        "access_token"
    ]
    inbox = await client.get("/api/v1/inbox", headers={"Authorization": f"Bearer {token}"})
    assert len(inbox.json()["items"]) == 1


async def _registered_client(services: Services):
    world = await make_world(services)
    key, pem = _key_pair()
    async with services.db.write() as session:
        registered = await register_client(
            session=session,
            signer=services.evidence,
            name="Office back end",
            role=Role.DISPATCHER,
            public_key_pem=pem,
            office_id=world.office.id,
        )
    return key, registered.client.id


@both_backends
async def test_a_client_assertion_gets_one_token_only(
    client: AsyncClient, services: Services
) -> None:
    key, client_id = await _registered_client(services)
    assertion = _assertion(key, client_id)
    assert (await _client_token(client, assertion)).status_code == 200

    replayed = await _client_token(client, assertion)
    assert replayed.status_code == 400
    assert replayed.headers["content-type"].startswith("application/problem+json")
    assert replayed.json()["error"] == "invalid_client"
    assert "already used" in replayed.json()["detail"]


async def test_assertions_with_different_jti_each_get_a_token(
    client: AsyncClient, services: Services
) -> None:
    key, client_id = await _registered_client(services)
    for jti in ("first", "second"):
        response = await _client_token(client, _assertion(key, client_id, jti=jti))
        assert response.status_code == 200, response.text


async def test_a_used_assertion_is_refused_as_expired_after_its_exp(
    client: AsyncClient, services: Services
) -> None:
    key, client_id = await _registered_client(services)
    assertion = _assertion(key, client_id)
    assert (await _client_token(client, assertion)).status_code == 200

    clock.set_offset(timedelta(seconds=121))
    expired = await _client_token(client, assertion)
    assert expired.status_code == 400
    assert expired.json()["error"] == "invalid_client"
    assert "expired" in expired.json()["detail"]
    # A new assertion still works, and the expired jti is forgotten on the way. (Without
    # `iat`, which PyJWT would compare with the real time, not the moved clock.)
    assert (await _client_token(client, _assertion(key, client_id, iat=None))).status_code == 200
    async with services.db.session() as session:
        remembered = (await session.exec(select(ClientAssertionUse.jti))).all()
    assert len(remembered) == 1


@pytest.mark.parametrize("jti", [None, 7, "", "j" * 256])
async def test_an_assertion_without_a_usable_jti_is_invalid_client(
    client: AsyncClient, services: Services, jti: object
) -> None:
    key, client_id = await _registered_client(services)
    response = await _client_token(client, _assertion(key, client_id, jti=jti))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "flaw",
    ["other-key", "expired", "wrong-audience", "too-long", "unknown-client", "garbage"],
)
async def test_bad_client_assertion_is_invalid_client(
    client: AsyncClient, services: Services, flaw: str
) -> None:
    world = await make_world(services)
    key, pem = _key_pair()
    async with services.db.write() as session:
        registered = await register_client(
            session=session,
            signer=services.evidence,
            name="c",
            role=Role.DISPATCHER,
            public_key_pem=pem,
            office_id=world.office.id,
        )
    moment = now()
    assertion = {
        "other-key": lambda: _assertion(_key_pair()[0], registered.client.id),
        "expired": lambda: _assertion(key, registered.client.id, exp=int(moment.timestamp()) - 5),
        "wrong-audience": lambda: _assertion(
            key, registered.client.id, aud="https://elsewhere/token"
        ),
        "too-long": lambda: _assertion(
            key, registered.client.id, exp=int(moment.timestamp()) + 86400
        ),
        "unknown-client": lambda: _assertion(key, "cli_unknown"),
        "garbage": lambda: "not-a-jwt",
    }[flaw]()
    response = await _client_token(client, assertion)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["error"] == "invalid_client"


async def test_client_credentials_without_assertion_is_invalid_request(
    client: AsyncClient, services: Services
) -> None:
    response = await client.post("/api/v1/auth/token", data={"grant_type": "client_credentials"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_registering_a_client_checks_role_and_key(services: Services) -> None:
    from mailbox.errors import InvalidRequest

    world = await make_world(services)
    _, pem = _key_pair()
    async with services.db.write() as session:
        with pytest.raises(InvalidRequest):
            await register_client(
                session=session,
                signer=services.evidence,
                name="x",
                role=Role.OWNER,
                public_key_pem=pem,
                office_id=world.office.id,
            )
        with pytest.raises(InvalidRequest):
            await register_client(
                session=session,
                signer=services.evidence,
                name="x",
                role=Role.DISPATCHER,
                public_key_pem="-----BEGIN NONSENSE-----",
                office_id=world.office.id,
            )
