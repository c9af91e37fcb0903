"""The paper room's tests: a world whose account has no electronic delivery (so dispatches go
to paper), its office's printing contractor, and the letters the outbox drain renders."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from pypdf import PdfReader
from sqlmodel import select

from mailbox.identity.admin import create_user, grant_role
from mailbox.models import Delivery, Office, PaperLetter, Role, User
from mailbox.notifications.outbox import drain_until_idle
from mailbox.services import Services
from tests.factories import PASSWORD, World, deliver, enrol_totp, make_world


@dataclass
class PaperWorld:
    world: World
    printer: User


async def make_paper_world(services: Services) -> PaperWorld:
    world = await make_world(services, edelivery=False)
    async with services.db.write() as session:
        office = await session.get(Office, world.office.id)
        assert office is not None
        office.postal_address = "Bob-van-Benthem-Plein 1\n2288 EE Rijswijk"
        session.add(office)
        printer = await create_user(
            session=session,
            email=f"printer-{world.office.code.lower()}@example.com",
            password=PASSWORD,
            display_name="Printing contractor",
        )
        await grant_role(
            session=session, user_id=printer.id, role=Role.PRINTER, office_id=world.office.id
        )
        await enrol_totp(session, printer)
    return PaperWorld(world, printer)


@pytest.fixture
async def paper(services: Services) -> PaperWorld:
    return await make_paper_world(services)


async def paper_delivery(services: Services, paper: PaperWorld, **kwargs: str) -> Delivery:
    """A dispatch to the paper world's account (no electronic delivery: it goes to paper),
    its letter rendered by the outbox drain."""
    delivery = await deliver(services, paper.world, **kwargs)
    assert delivery.status == "paper_queued"
    await drain_until_idle(services, worker_id="test", lanes=1)
    return delivery


async def letter_of(services: Services, delivery_id: str) -> tuple[PaperLetter, PdfReader]:
    async with services.db.session() as session:
        letter = (
            await session.exec(select(PaperLetter).where(PaperLetter.delivery_id == delivery_id))
        ).one()
    return letter, PdfReader(io.BytesIO(services.blobs.get(letter.blob_id)))
