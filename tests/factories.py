"""Factories with sensible defaults: a world of one office, one applicant account and the
people who act on them, built through the same domain functions the CLI uses."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from httpx import AsyncClient

from mailbox.admin import (
    add_verified_address,
    create_account,
    create_office,
    create_user,
    grant_role,
)
from mailbox.demo import demo_pdf
from mailbox.models import Account, Office, Role, User
from mailbox.services import Services

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


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
    return World(
        office,
        account,
        users["applicant"],
        users["dispatcher"],
        users["auditor"],
        users["stranger"],
        other,
    )


async def token_for(client: AsyncClient, user: User) -> dict[str, str]:
    """Authorization headers for ``user``, obtained through the token endpoint."""
    response = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": user.email, "password": PASSWORD},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


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
        },
    )
