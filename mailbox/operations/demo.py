"""Demo data for a newcomer: an office, an applicant account with a verified address, three
people (applicant, dispatcher, auditor) and a few delivered documents to click through; and the
office-to-office channel (:mod:`.demo_offices`): a search copy routed through a hub, a batch of
national-phase notices and the hub's coverage report."""

from __future__ import annotations

from sqlmodel import select

from mailbox.config import DEMO_MARKER, Settings
from mailbox.deliveries.dispatch import DispatchRequest, dispatch
from mailbox.identity.admin import (
    add_verified_address,
    create_account,
    create_office,
    create_user,
    grant_role,
)
from mailbox.identity.second_factor import enrol_with_secret
from mailbox.models import Office, Role
from mailbox.operations.demo_documents import demo_pdf
from mailbox.operations.demo_offices import OFFICE_TOTP_SECRETS, OFFICE_USERS, seed_office_channel
from mailbox.services import Services

__all__ = ["DEMO_TOTP_SECRETS", "DEMO_USERS", "demo_pdf", "seed_demo"]

APPLICANT_OFFICE_USERS = {
    "applicant": ("applicant@demo.test", "lighthouse-demo-1"),
    "dispatcher": ("dispatcher@demo.test", "riverboat-demo-2"),
    "auditor": ("auditor@demo.test", "snowfield-demo-3"),
}
# Everyone the demo can log in as; after the first three, the office-to-office demo's: the
# receiving office's dispatcher, the International Bureau's (hub) dispatcher and clerk, the
# searching authority's receiving clerk.
DEMO_USERS = {**APPLICANT_OFFICE_USERS, **OFFICE_USERS}
# Dispatchers and auditors must log in with a second factor: the demo's are enrolled with these
# TOTP secrets (printed by `demo`, to be typed into an authenticator app). Never do this for
# real people.
DEMO_TOTP_SECRETS = {
    "dispatcher": "DEMODISPATCHERTOTPSECRETAAAAAAAA",
    "auditor": "DEMOAUDITORTOTPSECRETBBBBBBBBBBB",
    **OFFICE_TOTP_SECRETS,
}
DEMO_DOCUMENTS = [
    ("R71", "EP23123456.7", "Communication under Rule 71(3) EPC (intention to grant)"),
    ("F2001", "EP23123456.7", "Invitation to pay the designation fee"),
    ("ISR", "PCT/EP2026/050123", "International search report and written opinion"),
]


async def seed_demo(settings: Settings) -> int:
    """Create the demo data unless it exists; return how many demo deliveries there are. The
    install is marked a demo (it may travel in time: ``clock advance``)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / DEMO_MARKER).write_text(
        "This install was made by `python -m mailbox demo`: its clock may be moved forward "
        "(`python -m mailbox clock advance 7d`). Never put real documents in it.\n",
        encoding="utf-8",
    )
    services = Services.start(settings, sealing_workers=0)
    try:
        async with services.db.write() as session:
            office = (await session.exec(select(Office).where(Office.code == "DEMO"))).first()
            if office is not None:
                return len(DEMO_DOCUMENTS)
            office = await create_office(session=session, code="DEMO", name="Demo Patent Office")
            account = await create_account(
                session=session,
                name="Demo Applicant Ltd",
                postal_address="1 Example Street\n10115 Berlin\nGermany",
                consent=True,
            )
            await add_verified_address(
                session=session, account=account, email="applicant@demo.test"
            )
            people = {}
            for role, (email, password) in APPLICANT_OFFICE_USERS.items():
                people[role] = await create_user(
                    session=session, email=email, password=password, display_name=f"Demo {role}"
                )
            await grant_role(
                session=session,
                user_id=people["applicant"].id,
                role=Role.OWNER,
                account_id=account.id,
            )
            await grant_role(
                session=session,
                user_id=people["dispatcher"].id,
                role=Role.DISPATCHER,
                office_id=office.id,
            )
            await grant_role(
                session=session,
                user_id=people["auditor"].id,
                role=Role.AUDITOR,
                office_id=office.id,
            )
            for role in ("dispatcher", "auditor"):
                secret = DEMO_TOTP_SECRETS[role]
                await enrol_with_secret(session=session, user_id=people[role].id, secret=secret)
        for kind, dossier, title in DEMO_DOCUMENTS:
            await dispatch(
                services,
                DispatchRequest(
                    office_id=office.id,
                    recipient_account_id=account.id,
                    kind_code=kind,
                    dossier_number=dossier,
                    title=title,
                    filename=f"{kind}.pdf",
                    pdf=demo_pdf(title),
                ),
                actor=f"user:{people['dispatcher'].id}",
            )
        await seed_office_channel(services, designated=office, dispatcher=people["dispatcher"])
        return len(DEMO_DOCUMENTS)
    finally:
        await services.close()
