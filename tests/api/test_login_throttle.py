"""Password guessing is throttled: after too many failed log-ins for one email, or from one
client address, log-ins are refused with 429 and Retry-After until the window has passed, on
the token endpoint and the log-in page alike, and even the right password is refused then,
without saying whether it was right."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from mailbox import clock
from mailbox.api.app import create_app
from mailbox.config import Settings
from mailbox.services import Services
from tests.factories import PASSWORD, make_world, web_login
from tests.fixtures.db import both_backends

PER_ACCOUNT = 3
PER_ADDRESS = 6
WINDOW = 900


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Small limits, so that a test reaches them with a few (slow, argon2) attempts."""
    return settings.model_copy(
        update={
            "login_failures_per_account": PER_ACCOUNT,
            "login_failures_per_address": PER_ADDRESS,
            "login_failure_window_seconds": WINDOW,
        }
    )


@pytest.fixture
async def from_address(services: Services) -> AsyncIterator[object]:
    """Opens HTTP clients that call the app from a given client address."""
    app = create_app(services=services)
    opened: list[httpx.AsyncClient] = []

    def open_client(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 50000))
        http = httpx.AsyncClient(transport=transport, base_url="http://mailbox.test")
        opened.append(http)
        return http

    yield open_client
    for http in opened:
        await http.aclose()


async def _token(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await http.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": email, "password": password},
    )


@both_backends
async def test_wrong_passwords_lock_the_account_until_the_window_passes(
    services: Services, from_address
) -> None:
    world = await make_world(services)
    http = from_address("198.51.100.1")
    for _ in range(PER_ACCOUNT):
        wrong = await _token(http, world.applicant.email, "guess")
        assert wrong.status_code == 400
        assert wrong.json()["error"] == "invalid_grant"

    right = await _token(http, world.applicant.email.upper() + " ", PASSWORD)
    assert right.status_code == 429
    assert right.headers["content-type"].startswith("application/problem+json")
    assert right.json()["type"] == "/problems/too-many-attempts"
    assert 0 < int(right.headers["Retry-After"]) <= WINDOW
    assert "access_token" not in right.json()
    # A wrong password gets the very same answer: the lock-out does not tell which was right.
    wrong = await _token(http, world.applicant.email, "guess")
    assert (wrong.status_code, wrong.json()) == (right.status_code, right.json())
    # Other accounts from the same address are not locked out by it.
    assert (await _token(http, world.stranger.email, PASSWORD)).status_code == 200

    clock.set_offset(timedelta(seconds=WINDOW + 1))
    assert (await _token(http, world.applicant.email, PASSWORD)).status_code == 200


async def test_a_successful_log_in_clears_the_account_failures(
    services: Services, from_address
) -> None:
    world = await make_world(services)
    http = from_address("198.51.100.2")
    for _ in range(PER_ACCOUNT - 1):
        assert (await _token(http, world.applicant.email, "guess")).status_code == 400
    assert (await _token(http, world.applicant.email, PASSWORD)).status_code == 200
    for _ in range(PER_ACCOUNT - 1):
        assert (await _token(http, world.applicant.email, "guess")).status_code == 400
    assert (await _token(http, world.applicant.email, PASSWORD)).status_code == 200


async def test_wrong_passwords_from_one_address_lock_that_address(
    services: Services, from_address
) -> None:
    world = await make_world(services)
    guesser = from_address("198.51.100.3")
    for n in range(PER_ADDRESS):
        assert (await _token(guesser, f"nobody{n}@example.com", "guess")).status_code == 400

    locked = await _token(guesser, world.applicant.email, PASSWORD)
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    # The account itself is not locked: its owner logs in from elsewhere.
    elsewhere = from_address("198.51.100.4")
    assert (await _token(elsewhere, world.applicant.email, PASSWORD)).status_code == 200

    clock.set_offset(timedelta(seconds=WINDOW + 1))
    assert (await _token(guesser, world.applicant.email, PASSWORD)).status_code == 200


async def test_login_page_answers_429_with_a_message_when_locked_out(
    services: Services, from_address
) -> None:
    world = await make_world(services)
    http = from_address("198.51.100.5")
    for _ in range(PER_ACCOUNT):
        wrong = await web_login(http, world.applicant.email, "x")
        assert wrong.status_code == 401

    locked = await web_login(http, world.applicant.email, PASSWORD)
    assert locked.status_code == 429
    assert "Too many failed log-in attempts" in locked.text
    assert int(locked.headers["Retry-After"]) > 0
    assert "set-cookie" not in locked.headers
    # The page and the API count the same failures.
    assert (await _token(http, world.applicant.email, PASSWORD)).status_code == 429

    clock.set_offset(timedelta(seconds=WINDOW + 1))
    page = await web_login(http, world.applicant.email, PASSWORD)
    assert page.status_code == 303
