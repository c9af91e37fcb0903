"""The second factor (two-step log-in, TOTP): dispatchers and auditors must enrol before they
get any session; people with it answer a code after the password, on the log-in page and the
token endpoint alike; a code is good once; wrong codes are throttled per person; recovery codes
log in once each; a remembered device skips the code until the second factor is turned off."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from httpx import AsyncClient

from mailbox import clock
from mailbox.api.pages.sessions import DEVICE_COOKIE, PENDING_COOKIE
from mailbox.api.security import SESSION_COOKIE
from mailbox.config import Settings
from mailbox.identity.admin import create_user, grant_role
from mailbox.models import Role, User, UserTotp
from mailbox.services import Services
from tests.factories import (
    FORM_TOKEN_FIELD,
    PASSWORD,
    TOTP_SECRETS,
    log_in_page,
    make_world,
    totp_code,
    web_login,
)
from tests.fixtures.db import both_backends

TOKEN = "/api/v1/auth/token"
STEP = "/login/second-factor"
SETTINGS = "/settings/two-factor"
WRONG_CODES_ALLOWED = 3
SECRET = re.compile(r'id="secret">([A-Z2-7]+)<')
RECOVERY = re.compile(r"<li><code>([A-Z0-9-]{19})</code></li>")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A small limit of wrong codes, so that a test reaches it quickly."""
    return settings.model_copy(update={"totp_failures_per_account": WRONG_CODES_ALLOWED})


async def new_dispatcher(services: Services, office_id: str, name: str = "fresh") -> User:
    """A dispatcher of the office who has not set up a second factor yet."""
    async with services.db.write() as session:
        user = await create_user(
            session=session,
            email=f"{name}-{office_id.lower()}@example.com",
            password=PASSWORD,
            display_name=name.title(),
        )
        await grant_role(
            session=session, user_id=user.id, role=Role.DISPATCHER, office_id=office_id
        )
    return user


async def token(client: AsyncClient, user: User, totp: str | None = None):
    form = {"grant_type": "password", "username": user.email, "password": PASSWORD}
    return await client.post(TOKEN, data=form | ({"totp": totp} if totp is not None else {}))


async def form_token_of(client: AsyncClient, path: str) -> str:
    page = await client.get(path)
    found = FORM_TOKEN_FIELD.search(page.text)
    assert page.status_code == 200 and found is not None, page.text
    return found.group(1)


async def totp_row(services: Services, user: User) -> UserTotp | None:
    async with services.db.session() as session:
        return await session.get(UserTotp, user.id)


async def test_dispatcher_without_second_factor_must_enrol_before_any_session(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    dispatcher = await new_dispatcher(services, world.office.id)

    login = await web_login(client, dispatcher.email)
    assert login.status_code == 303 and login.headers["location"] == STEP
    assert SESSION_COOKIE not in client.cookies
    # The half-finished log-in opens nothing else, pages or API.
    assert (await client.get("/inbox")).headers["location"] == "/login"
    half = client.cookies[PENDING_COOKIE]
    as_bearer = await client.get("/api/v1/inbox", headers={"Authorization": f"Bearer {half}"})
    assert as_bearer.status_code == 401

    page = await client.get(STEP)
    assert page.status_code == 200
    assert 'id="mandatory"' in page.text
    secret = SECRET.search(page.text).group(1)
    assert f"secret={secret}" in page.text  # the otpauth:// URI, for apps that take a link
    qr = await client.get("/two-factor/qr.svg")
    assert qr.status_code == 200
    assert qr.headers["content-type"].startswith("image/svg+xml")
    assert qr.headers["cache-control"] == "no-store"
    assert qr.content.lstrip().startswith((b"<?xml", b"<svg"))

    csrf = FORM_TOKEN_FIELD.search(page.text).group(1)
    wrong = await client.post(STEP + "/enrol", data={"code": "000000", "csrf_token": csrf})
    assert wrong.status_code == 401
    assert "Wrong code" in wrong.text
    assert SESSION_COOKIE not in client.cookies
    assert (await totp_row(services, dispatcher)).confirmed_at is None

    right = await client.post(
        STEP + "/enrol", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf}
    )
    assert right.status_code == 200, right.text
    codes = RECOVERY.findall(right.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert SESSION_COOKIE in client.cookies
    assert (await client.get("/office/dispatches")).status_code == 200  # the workspace
    # The QR code is shown while the set-up waits for its first code only.
    assert (await client.get("/two-factor/qr.svg")).status_code == 404


async def test_enrolment_code_typed_badly_is_a_field_error_and_changes_nothing(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    dispatcher = await new_dispatcher(services, world.office.id)
    await web_login(client, dispatcher.email)
    csrf = await form_token_of(client, STEP)

    typo = await client.post(STEP + "/enrol", data={"code": "12ab", "csrf_token": csrf})
    forged = await client.post(STEP + "/enrol", data={"code": "123456", "csrf_token": "x"})

    assert typo.status_code == 422
    assert "type the 6 digits your authenticator app shows" in typo.text
    assert forged.status_code == 403
    assert (await totp_row(services, dispatcher)).confirmed_at is None
    assert SESSION_COOKIE not in client.cookies


async def test_unenrolled_dispatcher_gets_no_token_from_the_api(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    dispatcher = await new_dispatcher(services, world.office.id)

    refused = await token(client, dispatcher)

    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"] == "/problems/second-factor-enrolment-required"
    assert "access_token" not in refused.json()


async def test_applicants_without_second_factor_log_in_with_their_password(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    assert (await token(client, world.applicant)).status_code == 200
    login = await web_login(client, world.applicant.email)
    assert login.headers["location"] == "/inbox"


@both_backends
async def test_token_endpoint_asks_for_the_code_and_takes_each_code_once(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    clock.freeze(clock.now())  # no step boundary in the middle of the test
    secret = TOTP_SECRETS[world.dispatcher.id]
    step = int(clock.now().timestamp()) // 30
    code = pyotp.TOTP(secret).generate_otp(step)

    missing = await token(client, world.dispatcher)
    wrong = await token(client, world.dispatcher, "123456" if code != "123456" else "654321")
    right = await token(client, world.dispatcher, code)
    replayed = await token(client, world.dispatcher, code)

    assert missing.status_code == 400
    assert missing.json()["type"] == "/problems/second-factor-required"
    assert missing.json()["errors"] == [{"field": "totp", "message": "required for this account"}]
    assert wrong.status_code == 400
    assert wrong.json()["type"] == "/problems/second-factor-invalid"
    assert wrong.json()["error"] == "invalid_grant"
    assert right.status_code == 200, right.text
    assert "access_token" in right.json()
    assert replayed.status_code == 400
    assert replayed.json()["type"] == "/problems/second-factor-invalid"
    # An older code is refused once a newer one was used; the next step's code is accepted.
    older = pyotp.TOTP(secret).generate_otp(step - 1)
    newer = pyotp.TOTP(secret).generate_otp(step + 1)
    assert (await token(client, world.dispatcher, older)).status_code == 400
    assert (await token(client, world.dispatcher, newer)).status_code == 200


async def test_codes_outside_one_step_either_side_are_refused(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    clock.freeze(clock.now())
    secret = TOTP_SECRETS[world.auditor.id]
    step = int(clock.now().timestamp()) // 30
    for far in (step - 2, step + 2):
        answer = await token(client, world.auditor, pyotp.TOTP(secret).generate_otp(far))
        assert answer.status_code == 400
    assert (await token(client, world.auditor, pyotp.TOTP(secret).generate_otp(step))).is_success


@both_backends
async def test_wrong_codes_are_throttled_per_person_until_the_window_passes(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    for _ in range(WRONG_CODES_ALLOWED):
        assert (await token(client, world.dispatcher, "000000")).status_code == 400

    locked = await token(client, world.dispatcher, totp_code(world.dispatcher))
    assert locked.status_code == 429
    assert locked.json()["type"] == "/problems/too-many-attempts"
    window = services.settings.login_failure_window_seconds
    assert 0 < int(locked.headers["Retry-After"]) <= window
    # The log-in page refuses the code as well; another person is not affected.
    await web_login(client, world.dispatcher.email)
    csrf = await form_token_of(client, STEP)
    page = await client.post(STEP, data={"code": totp_code(world.dispatcher), "csrf_token": csrf})
    assert page.status_code == 429
    assert 0 < int(page.headers["Retry-After"]) <= int(locked.headers["Retry-After"])
    assert SESSION_COOKIE not in client.cookies
    assert (await token(client, world.auditor, totp_code(world.auditor))).status_code == 200

    clock.set_offset(timedelta(seconds=window + 1))
    assert (await token(client, world.dispatcher, totp_code(world.dispatcher))).status_code == 200


async def test_log_in_page_asks_for_the_code_after_the_password(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    login = await web_login(client, world.auditor.email)
    assert login.headers["location"] == STEP
    csrf = await form_token_of(client, STEP)

    forged = await client.post(STEP, data={"code": totp_code(world.auditor), "csrf_token": ""})
    wrong = await client.post(STEP, data={"code": "000000", "csrf_token": csrf})
    assert forged.status_code == 403
    assert wrong.status_code == 401 and "Wrong or already used code" in wrong.text
    assert SESSION_COOKIE not in client.cookies

    right = await client.post(STEP, data={"code": totp_code(world.auditor), "csrf_token": csrf})
    assert right.status_code == 303 and right.headers["location"] == "/inbox"
    assert SESSION_COOKIE in client.cookies and PENDING_COOKIE not in client.cookies
    assert DEVICE_COOKIE not in client.cookies  # not asked to remember


async def test_half_finished_log_in_expires(client: AsyncClient, services: Services) -> None:
    world = await make_world(services)
    await web_login(client, world.auditor.email)
    csrf = await form_token_of(client, STEP)

    clock.set_offset(timedelta(minutes=11))
    late = await client.post(STEP, data={"code": totp_code(world.auditor), "csrf_token": csrf})

    assert late.status_code == 303 and late.headers["location"] == "/login?error=expired"
    assert SESSION_COOKIE not in client.cookies


async def test_remembered_device_skips_the_code_until_the_second_factor_is_turned_off(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    await log_in_page(client, world.dispatcher, remember=True)
    device = client.cookies[DEVICE_COOKIE]

    # Another log-in on this device: no code.
    client.cookies.clear()
    client.cookies.set(DEVICE_COOKIE, device)
    again = await web_login(client, world.dispatcher.email)
    assert again.headers["location"] == "/inbox"
    # The device is remembered for this person only.
    client.cookies.clear()
    client.cookies.set(DEVICE_COOKIE, device)
    other = await web_login(client, world.auditor.email)
    assert other.headers["location"] == STEP

    # Turned off (with the password), the device is forgotten, also after setting it up again.
    await log_in_page(client, world.dispatcher)
    off = await client.post(
        SETTINGS + "/disable",
        data={"password": PASSWORD, "csrf_token": await form_token_of(client, SETTINGS)},
    )
    assert off.status_code == 303 and off.headers["location"] == SETTINGS + "?done=off"
    assert await totp_row(services, world.dispatcher) is None
    client.cookies.clear()
    client.cookies.set(DEVICE_COOKIE, device)
    after = await web_login(client, world.dispatcher.email)
    assert after.headers["location"] == STEP
    assert 'id="mandatory"' in (await client.get(STEP)).text  # a dispatcher must set it up again


async def test_settings_turn_on_renew_and_refuse_changes_without_proof(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    await log_in_page(client, world.applicant)
    off = await client.get(SETTINGS)
    assert "<strong>Off.</strong>" in off.text

    started = await client.post(
        SETTINGS + "/start", data={"csrf_token": FORM_TOKEN_FIELD.search(off.text).group(1)}
    )
    assert started.status_code == 303
    page = await client.get(SETTINGS)
    secret = SECRET.search(page.text).group(1)
    assert (await client.get("/two-factor/qr.svg")).status_code == 200
    csrf = FORM_TOKEN_FIELD.search(page.text).group(1)
    shown = await client.post(
        SETTINGS + "/confirm",
        data={"code": totp_code(world.applicant.id, secret), "csrf_token": csrf},
    )
    first_codes = RECOVERY.findall(shown.text)
    assert len(first_codes) == 10
    assert "10 of 10 recovery codes left" in (await client.get(SETTINGS)).text

    csrf = await form_token_of(client, SETTINGS)
    empty = await client.post(SETTINGS + "/recovery-codes", data={"csrf_token": csrf})
    wrong = await client.post(
        SETTINGS + "/disable", data={"password": "not my password", "csrf_token": csrf}
    )
    forged = await client.post(SETTINGS + "/disable", data={"password": PASSWORD})
    assert empty.status_code == 422 and "Confirm with your password or a code" in empty.text
    assert wrong.status_code == 401 and "Wrong password" in wrong.text
    assert forged.status_code == 403
    assert (await totp_row(services, world.applicant)).confirmed_at is not None

    renewed = await client.post(
        SETTINGS + "/recovery-codes",
        data={"code": totp_code(world.applicant.id, secret), "csrf_token": csrf},
    )
    new_codes = RECOVERY.findall(renewed.text)
    assert len(new_codes) == 10 and not set(new_codes) & set(first_codes)
    # The old codes stopped working; a new one logs in once (on the API too).
    assert (await token(client, world.applicant, first_codes[0])).status_code == 400
    assert (await token(client, world.applicant, new_codes[0].lower())).status_code == 200
    assert (await token(client, world.applicant, new_codes[0])).status_code == 400
    assert "9 of 10 recovery codes left" in (await client.get(SETTINGS)).text
