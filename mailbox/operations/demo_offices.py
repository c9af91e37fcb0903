"""The office-to-office part of the demo: a receiving office (``RODE``), the International
Bureau as hub (``IB``) and a searching authority (``ISAEP``), each with a mailbox; one search
copy routed RODE -> IB -> ISAEP; a batch of national-phase entry notices the demo office sends
the Bureau as JSON; and the Bureau's list of what it expects, so that its coverage report shows
items on time, late, missing and still pending.

Everything goes through the same use cases as a real office's requests (transmission, bulk
dispatch, expected list); the outbox then forwards the search copy as the running service
would (the demo drains it once, so that a newcomer finds it at the searching authority).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.coverage.expected import read_expected_list, upload_expected
from mailbox.deliveries.batch_runner import work_batches
from mailbox.deliveries.batches import create_batch, new_upload
from mailbox.identity.admin import (
    create_office,
    create_user,
    grant_role,
    office_mailbox,
    open_office_mailbox,
)
from mailbox.identity.second_factor import enrol_with_secret
from mailbox.models import Office, Role, User
from mailbox.notifications.outbox import drain_until_idle
from mailbox.operations.demo_documents import demo_pdf
from mailbox.services import Services
from mailbox.transmissions.send import send_transmission

__all__ = ["OFFICE_TOTP_SECRETS", "OFFICE_USERS", "seed_office_channel"]

# People of the office-to-office demo: (email, password).
OFFICE_USERS = {
    "receiving": ("receiving@demo.test", "harbourlight-demo-4"),
    "hub": ("hub@demo.test", "crossroads-demo-5"),
    "searching": ("searching@demo.test", "telescope-demo-6"),
}
# The receiving office's and the hub's dispatchers log in with a second factor.
OFFICE_TOTP_SECRETS = {
    "receiving": "DEMORECEIVINGTOTPSECRETCCCCCCCCC",
    "hub": "DEMOHUBTOTPSECRETDDDDDDDDDDDDDDD",
}
SEARCH_COPY = "PCT/DE2026/004711"
# The demo office's national-phase entry notices: (number, designated office, days before
# today the item was due: negative means due later).
NOTICES = [
    ("PCT/EP2026/000101", "JP", -20),
    ("PCT/EP2026/000102", "JP", -10),
    ("PCT/EP2026/000103", "JP", -5),
    ("PCT/EP2026/000104", "JP", 0),
    ("PCT/EP2026/000105", "JP", 3),  # sent, but after its due date: late
    ("PCT/EP2026/000106", "JP", 6),  # sent, late
]
# Expected from the demo office but never sent: one overdue (missing), one not yet due.
NOT_SENT = [("PCT/EP2026/000107", 4), ("PCT/EP2026/000108", -30)]


@dataclass(frozen=True)
class _Offices:
    receiving: Office
    hub: Office
    searching: Office


async def seed_office_channel(services: Services, *, designated: Office, dispatcher: User) -> None:
    """Seed the office-to-office demo beside the demo office ``designated`` (which sends the
    notices, through its ``dispatcher``). Called once, with the rest of the demo data."""
    async with services.db.write() as session:
        offices, people = await _offices_and_people(session, designated)
    await _search_copy(services, offices, people["receiving"])
    await _notices(services, offices, designated, dispatcher)
    await _expected(services, offices, designated)
    # The hub's system receives the search copy and forwards it by its (automatic) rule.
    await drain_until_idle(services, worker_id="demo")


async def _offices_and_people(
    session: AsyncSession, designated: Office
) -> tuple[_Offices, dict[str, User]]:
    receiving = await create_office(session=session, code="RODE", name="Receiving Office (DE)")
    receiving.time_zone = "Europe/Berlin"
    hub = await create_office(session=session, code="IB", name="International Bureau")
    hub.time_zone = "Europe/Zurich"
    searching = await create_office(session=session, code="ISAEP", name="Searching Authority EP")
    searching.time_zone = "Europe/Berlin"
    for office in (receiving, hub, searching, designated):
        session.add(office)
        await open_office_mailbox(
            session=session, office=office.id, email=f"{office.code.lower()}-intake@demo.test"
        )
    people = {}
    for role, (email, password) in OFFICE_USERS.items():
        people[role] = await create_user(
            session=session, email=email, password=password, display_name=f"Demo {role} office"
        )
    mailboxes = {}
    for office in (hub, searching):
        _, mailboxes[office.code] = await office_mailbox(session=session, office=office.id)
    await grant_role(
        session=session,
        user_id=people["receiving"].id,
        role=Role.DISPATCHER,
        office_id=receiving.id,
    )
    await grant_role(
        session=session, user_id=people["hub"].id, role=Role.DISPATCHER, office_id=hub.id
    )
    await grant_role(
        session=session, user_id=people["hub"].id, role=Role.EDITOR, account_id=mailboxes["IB"].id
    )
    await grant_role(
        session=session,
        user_id=people["searching"].id,
        role=Role.EDITOR,
        account_id=mailboxes["ISAEP"].id,
    )
    for role, secret in OFFICE_TOTP_SECRETS.items():
        await enrol_with_secret(session=session, user_id=people[role].id, secret=secret)
    return _Offices(receiving, hub, searching), people


async def _search_copy(services: Services, offices: _Offices, clerk: User) -> None:
    files = {
        "request.pdf": demo_pdf(f"PCT Request {SEARCH_COPY}"),
        "description.pdf": demo_pdf("Description", "A lighthouse lamp with a rotating lens."),
        "claims.pdf": demo_pdf("Claims", "1. A lamp comprising a rotating lens."),
        "abstract.json": json.dumps(
            {"abstract": "A lighthouse lamp whose lens rotates.", "language": "en"}
        ).encode(),
    }
    roles = {"request.pdf": "request", "description.pdf": "description", "claims.pdf": "claims"}
    manifest = {
        "format": "mailbox-transmission/1",
        "international_application_number": SEARCH_COPY,
        "kind": "search-copy",
        "sender": offices.receiving.code,
        "final_recipient": offices.searching.code,
        "sender_reference": "RO-DE-4711",
        "documents": [
            {
                "file": name,
                "role": roles.get(name, "abstract"),
                "media_type": "application/json" if name.endswith(".json") else "application/pdf",
                "sha256": hashlib.sha256(content).hexdigest(),
            }
            for name, content in files.items()
        ],
    }
    await send_transmission(
        services,
        office_id=offices.receiving.id,
        manifest=json.dumps(manifest).encode(),
        files=files,
        via=offices.hub.code,
        actor=f"user:{clerk.id}",
    )


async def _notices(
    services: Services, offices: _Offices, designated: Office, dispatcher: User
) -> None:
    async with services.db.session() as session:
        _, mailbox = await office_mailbox(session=session, office=offices.hub.id)
    assert mailbox is not None
    upload = new_upload(services)
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(
        [
            "recipient_account_id",
            "kind_code",
            "dossier_number",
            "title",
            "filename",
            "office_reference",
        ]
    )
    today = now().date()
    for n, (number, office, _) in enumerate(NOTICES, start=1):
        name = f"notice-{n}.json"
        notice = {
            "notice": "national-phase-entry/1",
            "international_application_number": number,
            "designated_office": office,
            "national_application_number": f"2026-5{n:05d}",
            "entry_date": (today - timedelta(days=n)).isoformat(),
            "status": "entered",
            "applicant_reference": f"ACME-{n}",
        }
        part = upload.document(name)
        part.write(json.dumps(notice).encode())
        writer.writerow(
            [
                mailbox.id,
                "national-phase-entry",
                number,
                f"National-phase entry {number}",
                name,
                f"NPE-{n}",
            ]
        )
    part = upload.manifest("notices.csv")
    part.write(rows.getvalue().encode())
    batch = await create_batch(
        services, upload, office_id=designated.id, actor=f"user:{dispatcher.id}"
    )
    await work_batches(services, worker_id="demo", batch_id=batch.id)


async def _expected(services: Services, offices: _Offices, designated: Office) -> None:
    today = now().date()
    lines = ["sender,kind,international_application_number,due_on"]
    for number, _, due_before in NOTICES:
        lines.append(
            f"{designated.code},national-phase-entry,{number},{today - timedelta(days=due_before)}"
        )
    for number, due_before in NOT_SENT:
        lines.append(
            f"{designated.code},national-phase-entry,{number},{today - timedelta(days=due_before)}"
        )
    lines.append(f"{offices.receiving.code},search-copy,{SEARCH_COPY},{today + timedelta(days=7)}")
    rows = read_expected_list("\n".join(lines).encode(), "csv", today=today)
    async with services.db.write() as session:
        await upload_expected(session=session, hub=offices.hub, rows=rows)
