"""Webhook SSRF: a subscriber cannot make the service post to this machine, the cloud's
metadata endpoint or the internal network, whatever spelling of the address it uses; the
refusal says why and writes nothing."""

from __future__ import annotations

import pytest
from httpx import AsyncClient
from sqlalchemy import func
from sqlmodel import select

from mailbox.models import WebhookSubscription
from mailbox.services import Services
from notifier.targets import host_problem
from tests.factories import make_world, token_for

HOOKS = "/api/v1/webhooks"


async def _subscribe(client: AsyncClient, services: Services, url: str):
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    return await client.post(
        HOOKS, headers=owner, json={"account_id": world.account.id, "url": url}
    )


async def _subscriptions(services: Services) -> int:
    async with services.db.session() as session:
        return (await session.exec(select(func.count()).select_from(WebhookSubscription))).one()


def _refusal(response) -> str:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    [error] = response.json()["errors"]
    assert error["field"] == "url"
    return error["message"]


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "LOCALHOST.",
        "api.localhost",
        "[::1]",
        "2130706433",  # 127.0.0.1 as one decimal number
        "0x7f.1",  # hex, two parts
        "0177.0.0.1",  # octal
        "127.1",
        "0x7f000001",
        "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
        "[::ffff:7f00:1]",
    ],
)
async def test_webhook_target_loopback_refused(
    client: AsyncClient, services: Services, host: str
) -> None:
    message = _refusal(await _subscribe(client, services, f"https://{host}/hook"))
    assert "loopback" in message or "local or internal host" in message
    assert "public internet hosts only" in message
    assert await _subscriptions(services) == 0


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("169.254.169.254", "link-local"),  # cloud metadata endpoint
        ("[fe80::1]", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("012.0.0.1", "private"),  # 10.0.0.1 in octal
        ("[fd00::1]", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("224.0.0.1", "multicast"),
        ("[ff02::1]", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("[64:ff9b::a00:1]", "private"),  # NAT64 of 10.0.0.1
        ("[2002:7f00:1::]", "loopback"),  # 6to4 of 127.0.0.1
        ("metadata.google.internal", "local or internal host"),
        ("printer.local", "local or internal host"),
        ("intranet", "fully qualified"),
    ],
)
async def test_webhook_target_private_or_metadata_refused(
    client: AsyncClient, services: Services, host: str, reason: str
) -> None:
    response = await _subscribe(client, services, f"https://{host}:8443/hook")
    assert reason in _refusal(response)
    assert response.json()["detail"] == "The webhook subscription is invalid"
    assert await _subscriptions(services) == 0


@pytest.mark.parametrize(
    "host", ["hooks.example.com", "8.8.8.8", "[2606:4700:4700::1111]", "134744072"]
)
def test_webhook_target_public_host_accepted(host: str) -> None:
    assert host_problem(host.strip("[]")) is None


async def test_webhook_target_public_subscription_created(
    client: AsyncClient, services: Services
) -> None:
    response = await _subscribe(client, services, "https://8.8.8.8/hook")
    assert response.status_code == 201, response.text
    assert await _subscriptions(services) == 1
