"""The liveness endpoint, and what it says of the email channel."""

from __future__ import annotations

import httpx

from mailbox import clock
from mailbox.channels import Handled
from mailbox.models import Channel
from mailbox.services import Services
from notifier import SendOutcome


async def test_healthz_says_email_is_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "email": "ok"}


async def test_healthz_says_since_when_the_email_circuit_is_open(
    client: httpx.AsyncClient, services: Services
) -> None:
    down = Handled(SendOutcome(False, False, "cannot connect: timeout", ours=True))
    services.circuits.observe(Channel.EMAIL, [down], at=clock.now(), settings=services.settings)

    response = await client.get("/healthz")

    assert response.status_code == 200  # alive: the outbox waits, nothing is lost
    assert response.json()["email"].startswith("open since ")
    assert response.json()["email"].endswith(": cannot connect: timeout")
