"""Factories of transmissions: a sending office (the world's), a hub and a final recipient,
each hub and recipient with its mailbox and its people, a package and its manifest."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Any

from httpx import AsyncClient, Response

from mailbox.identity.admin import create_office, create_user, grant_role, open_office_mailbox
from mailbox.models import Account, Office, Role, User
from mailbox.operations.demo import demo_pdf
from mailbox.services import Services
from tests.factories import PASSWORD, World, add_member, enrol_totp, make_world

_counter = itertools.count(1)
NUMBER = "PCT/EP2026/012345"


@dataclass
class Receiver:
    """An office that receives transmissions: its mailbox, the clerk who reads it, and its
    dispatcher (who forwards what it holds, as a hub)."""

    office: Office
    mailbox: Account
    clerk: User
    dispatcher: User


@dataclass
class Route:
    world: World  # the sender: the world's office and its dispatcher
    hub: Receiver
    final: Receiver


async def receiver(services: Services, prefix: str) -> Receiver:
    """A new office with a mailbox, a clerk (editor of the mailbox) and a dispatcher."""
    n = next(_counter)
    async with services.db.write() as session:
        office = await create_office(session=session, code=f"{prefix}{n}", name=f"{prefix} {n}")
        mailbox, _ = await open_office_mailbox(
            session=session, office=office.id, email=f"intake{n}@{prefix.lower()}.example"
        )
        dispatcher = await create_user(
            session=session,
            email=f"{prefix.lower()}-dispatcher{n}@example.com",
            password=PASSWORD,
            display_name=f"{prefix} dispatcher",
        )
        await grant_role(
            session=session, user_id=dispatcher.id, role=Role.DISPATCHER, office_id=office.id
        )
        await enrol_totp(session, dispatcher)
    clerk = await add_member(services, mailbox, Role.EDITOR)
    return Receiver(office, mailbox, clerk, dispatcher)


async def make_route(services: Services) -> Route:
    """The world's office as sender, a hub (IB...) and a final recipient (ISA...)."""
    return Route(
        await make_world(services), await receiver(services, "IB"), await receiver(services, "ISA")
    )


def package(
    sender: str, final: str, *, kind: str = "search-copy", documents: int = 3
) -> tuple[bytes, dict[str, bytes]]:
    """A manifest and its documents: PDFs (description, claims) and a JSON search report."""
    files: dict[str, bytes] = {}
    entries: list[dict[str, Any]] = []
    roles = ["description", "claims", "search-report", "drawings", "abstract"]
    for n in range(documents):
        role = roles[n % len(roles)]
        if role == "search-report":
            name, media, content = (
                "search-report.json",
                "application/json",
                json.dumps({"report": "X: D1 relevant", "n": n}).encode(),
            )
        else:
            name, media, content = f"{role}-{n}.pdf", "application/pdf", demo_pdf(f"{role} {n}")
        files[name] = content
        entries.append(
            {
                "file": name,
                "role": role,
                "media_type": media,
                "sha256": hashlib.sha256(content).hexdigest(),
            }
        )
    manifest = {
        "format": "mailbox-transmission/1",
        "international_application_number": NUMBER,
        "kind": kind,
        "sender": sender,
        "final_recipient": final,
        "sender_reference": "SC-2026-001",
        "documents": entries,
    }
    return json.dumps(manifest).encode(), files


async def post_transmission(
    client: AsyncClient,
    headers: dict[str, str],
    manifest: bytes,
    files: dict[str, bytes],
    *,
    via: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> Response:
    parts = [("manifest", ("manifest.json", manifest, "application/json"))]
    parts += [
        ("documents", (name, content, "application/octet-stream"))
        for name, content in files.items()
    ]
    return await client.post(
        "/api/v1/transmissions",
        headers={**headers, **(extra_headers or {})},
        files=parts,
        data={"via": via} if via else {},
    )
