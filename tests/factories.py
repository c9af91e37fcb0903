"""Factories with sensible defaults: a world of one office, one applicant account and the
people who act on them, built through the same domain functions the CLI uses."""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass

import pyotp
from httpx import AsyncClient, Response

from mailbox import clock
from mailbox.deliveries.dispatch import DispatchRequest, dispatch
from mailbox.identity.admin import (
    add_verified_address,
    create_account,
    create_office,
    create_user,
    grant_role,
)
from mailbox.identity.second_factor import enrol_with_secret
from mailbox.models import Account, Delivery, Office, Role, User
from mailbox.notifications.settings import give_consent
from mailbox.operations.demo import demo_pdf
from mailbox.services import Services

PASSWORD = "correct horse battery"
_counter = itertools.count(1)
# The TOTP secrets of the users the factories enrolled (dispatchers and auditors must have
# one), and the newest time step each has answered with: a code is accepted once.
TOTP_SECRETS: dict[str, str] = {}
_last_step: dict[str, int] = {}
FORM_TOKEN_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')


@dataclass
class World:
    office: Office
    account: Account
    applicant: User
    dispatcher: User
    auditor: User
    stranger: User  # holds a grant on another account only
    other_account: Account


async def make_world(
    services: Services,
    *,
    edelivery: bool = True,
    deemed_days: int | None = 10,
    language: str = "en",
    email: str = "applicant@example.com",
) -> World:
    n = next(_counter)
    async with services.db.write() as session:
        office = await create_office(
            session=session, code=f"T{n}", name=f"Test Office {n}", deemed_delivery_days=deemed_days
        )
        account = await create_account(
            session=session,
            name=f"Applicant {n} GmbH",
            postal_address="Hauptstr. 1\n80331 München",
            language=language,
            consent=edelivery,
        )
        if edelivery:
            await add_verified_address(session=session, account=account, email=email)
        other = await create_account(
            session=session, name=f"Other {n} Ltd", postal_address="2 Side Street", consent=True
        )
        users = {}
        for name in ("applicant", "dispatcher", "auditor", "stranger"):
            users[name] = await create_user(
                session=session,
                email=f"{name}{n}@example.com",
                password=PASSWORD,
                display_name=name.title(),
            )
        await grant_role(
            session=session, user_id=users["applicant"].id, role=Role.OWNER, account_id=account.id
        )
        await grant_role(
            session=session,
            user_id=users["dispatcher"].id,
            role=Role.DISPATCHER,
            office_id=office.id,
        )
        await grant_role(
            session=session, user_id=users["auditor"].id, role=Role.AUDITOR, office_id=office.id
        )
        await grant_role(
            session=session, user_id=users["stranger"].id, role=Role.OWNER, account_id=other.id
        )
        for name in ("dispatcher", "auditor"):
            await enrol_totp(session, users[name])
    return World(
        office,
        account,
        users["applicant"],
        users["dispatcher"],
        users["auditor"],
        users["stranger"],
        other,
    )


async def enrol_totp(session, user: User) -> str:
    """Give ``user`` a TOTP second factor with a fresh secret (kept in :data:`TOTP_SECRETS`)."""
    secret = pyotp.random_base32()
    await enrol_with_secret(session=session, user_id=user.id, secret=secret)
    TOTP_SECRETS[user.id] = secret
    _last_step.pop(user.id, None)
    return secret


def totp_code(user: User | str, secret: str | None = None) -> str:
    """The code an authenticator app of ``user`` would show, as the service's clock reads the
    time, for a step not answered before. The service accepts one step either side of now and
    each step once: the code is of this step or the next (never the last, which may leave the
    window before the service reads it); a third log-in within a step waits for the next."""
    user_id = user if isinstance(user, str) else user.id
    secret = secret or TOTP_SECRETS[user_id]
    while True:
        current = int(clock.now().timestamp()) // 30
        step = max(current, _last_step.get(user_id, current - 1) + 1)
        if step <= current + 1:
            break
        before = clock.now()
        time.sleep(1)
        assert clock.now() > before, "the clock is frozen and every TOTP step is used"
    _last_step[user_id] = step
    return pyotp.TOTP(secret).generate_otp(step)


async def token_for(client: AsyncClient, user: User) -> dict[str, str]:
    """Authorization headers for ``user``, obtained through the token endpoint (with a code
    of their authenticator when they have a second factor)."""
    form = {"grant_type": "password", "username": user.email, "password": PASSWORD}
    if user.id in TOTP_SECRETS:
        form["totp"] = totp_code(user)
    response = await client.post("/api/v1/auth/token", data=form)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def web_login(client: AsyncClient, email: str, password: str = PASSWORD) -> Response:
    """Log in through the log-in page as a browser does: open the form (which sets its log-in
    cookie) and post it back with the form's token."""
    page = await client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return await client.post(
        "/login", data={"email": email, "password": password, "csrf_token": found.group(1)}
    )


async def log_in_page(client: AsyncClient, user: User, *, remember: bool = False):
    """Log ``user`` in through the log-in page like a browser (answering the second-factor
    step with a code when they have one); returns the last answer (303 to the inbox)."""
    client.cookies.clear()
    response = await web_login(client, user.email)
    assert response.status_code == 303, response.text
    if response.headers["location"] == "/login/second-factor":
        step = await client.get("/login/second-factor")
        token = FORM_TOKEN_FIELD.search(step.text)
        assert step.status_code == 200 and token is not None, step.text
        form = {"code": totp_code(user), "csrf_token": token.group(1)}
        response = await client.post(
            "/login/second-factor", data={**form, **({"remember": "yes"} if remember else {})}
        )
        assert response.status_code == 303, response.text
    assert response.headers["location"] == "/inbox"
    return response


async def post_dispatch(
    client: AsyncClient,
    headers: dict[str, str],
    recipient: str,
    *,
    pdf: bytes | None = None,
    kind_code: str = "R71",
    dossier_number: str = "EP23123456.7",
    title: str = "Communication under Rule 71(3) EPC",
    extra_headers: dict[str, str] | None = None,
    document_date: str | None = None,
):
    return await client.post(
        "/api/v1/dispatches",
        headers={**headers, **(extra_headers or {})},
        files={
            "file": ("notice.pdf", pdf if pdf is not None else demo_pdf(title), "application/pdf")
        },
        data={
            "recipient_account_id": recipient,
            "kind_code": kind_code,
            "dossier_number": dossier_number,
            "title": title,
            **({"document_date": document_date} if document_date is not None else {}),
        },
    )


async def add_member(services: Services, account: Account, role: Role = Role.VIEWER) -> User:
    """A new user holding ``role`` (viewer by default) on ``account``."""
    n = next(_counter)
    async with services.db.write() as session:
        user = await create_user(
            session=session,
            email=f"{role.value}{n}@example.com",
            password=PASSWORD,
            display_name=f"{role.value.title()} {n}",
        )
        await grant_role(session=session, user_id=user.id, role=role, account_id=account.id)
    return user


async def consent_without_address(services: Services, account: Account) -> None:
    """Record the account's consent to electronic delivery, as its owner would."""
    async with services.db.write() as session:
        stored = await session.get(Account, account.id)
        assert stored is not None
        await give_consent(
            session=session, signer=services.evidence, account=stored, actor="user:factory"
        )


async def deliver(
    services: Services,
    world: World,
    *,
    dossier_number: str = "EP23123456.7",
    title: str = "Communication under Rule 71(3) EPC",
    kind_code: str = "R71",
    document_date: str | None = None,
) -> Delivery:
    """Dispatch a demo PDF from the world's office to its account, through the domain (no
    HTTP): the delivery, its evidence and its outbox rows, committed."""
    dispatched = await dispatch(
        services,
        DispatchRequest(
            office_id=world.office.id,
            recipient_account_id=world.account.id,
            kind_code=kind_code,
            dossier_number=dossier_number,
            title=title,
            filename="notice.pdf",
            pdf=demo_pdf(title),
            document_date=document_date,
        ),
        actor=f"user:{world.dispatcher.id}",
    )
    return dispatched.delivery


def small_pdf(text: str) -> bytes:
    """A one-page PDF showing ``text`` (ASCII), written directly: thousands of distinct
    documents for bulk dispatch tests in milliseconds, each a valid PDF that the seal accepts."""
    safe = text.replace("\\", "").replace("(", "").replace(")", "")
    stream = f"BT /F1 12 Tf 72 770 Td ({safe}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
