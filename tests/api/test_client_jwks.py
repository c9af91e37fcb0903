"""A client publishes its keys at a JWKS URL: the service fetches them (only from public
https:// hosts, unless a test setting allows a loopback http:// server), keeps them, and
fetches again when an assertion names a key it has not seen, no more often than the floor."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from httpx import AsyncClient

from mailbox.config import Settings
from mailbox.identity.client_jwks import JwksCache
from mailbox.services import Services
from tests.factories import make_world, token_for
from tests.fixtures.machine_client import ClientKey, request_token


class JwksServer:
    """A loopback HTTP server publishing a JWK Set that a test changes, counting fetches."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                body = json.dumps({"keys": server.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/.well-known/jwks.json"

    def __enter__(self) -> JwksServer:
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    with JwksServer() as server:
        yield server


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"client_jwks_allow_private": True, "client_jwks_refresh_floor_seconds": 0}
    )


def _body(world, url: str) -> dict[str, Any]:
    return {
        "name": "Key server system",
        "role": "viewer",
        "scopes": ["inbox:read"],
        "account_id": world.account.id,
        "jwks_url": url,
    }


async def test_jwks_url_client_gets_tokens_and_a_new_key_is_fetched_when_named(
    client: AsyncClient, services: Services, jwks_server: JwksServer
) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    first = ClientKey()
    jwks_server.keys = [first.jwk]
    made = await client.post("/api/v1/clients", headers=owner, json=_body(world, jwks_server.url))
    assert made.status_code == 201, made.text
    client_id = made.json()["id"]
    assert made.json()["jwks_url"] == jwks_server.url and made.json()["keys"] == []
    token = await request_token(client, first.assertion(client_id))
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert (await client.get("/api/v1/inbox", headers=headers)).status_code == 200
    fetched = jwks_server.fetches
    # The client rolls its key over at its own server: the new kid makes the service fetch.
    second = ClientKey()
    jwks_server.keys = [second.jwk]
    assert (await request_token(client, first.assertion(client_id))).status_code == 200  # cached
    assert jwks_server.fetches == fetched
    assert (await request_token(client, second.assertion(client_id))).status_code == 200
    assert jwks_server.fetches == fetched + 1
    # A key nobody published is refused, however often it is named.
    stranger = ClientKey()
    refused = await request_token(client, stranger.assertion(client_id))
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_client"


async def test_unknown_kids_refetch_no_more_often_than_the_floor(jwks_server: JwksServer) -> None:
    key = ClientKey()
    jwks_server.keys = [key.jwk]
    cache = JwksCache(allow_private=True, refresh_floor_seconds=3600)
    await cache.keys(jwks_server.url, kid=key.kid)
    for n in range(5):
        assert await cache.keys(jwks_server.url, kid=f"made-up-{n}") == [key.jwk]
    assert jwks_server.fetches == 1


async def test_a_loopback_jwks_url_is_refused_without_the_test_setting(
    client: AsyncClient, services: Services, jwks_server: JwksServer
) -> None:
    services.settings = services.settings.model_copy(update={"client_jwks_allow_private": False})
    services.jwks = JwksCache(allow_private=False)
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    jwks_server.keys = [ClientKey().jwk]
    for url, why in (
        (jwks_server.url, "https://"),
        ("https://127.0.0.1/jwks.json", "loopback"),
        ("https://metadata.internal/jwks.json", "local or internal"),
    ):
        refused = await client.post("/api/v1/clients", headers=owner, json=_body(world, url))
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "jwks_url"
        assert why in refused.json()["detail"]
    assert jwks_server.fetches == 0


async def test_a_jwks_url_serving_no_usable_key_is_refused(
    client: AsyncClient, services: Services, jwks_server: JwksServer
) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    jwks_server.keys = [{"kty": "oct", "k": "c2VjcmV0"}]
    refused = await client.post(
        "/api/v1/clients", headers=owner, json=_body(world, jwks_server.url)
    )
    assert refused.status_code == 422
    assert "no public EC or RSA signing key" in refused.json()["detail"]
