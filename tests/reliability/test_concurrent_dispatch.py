"""Many dispatches at once keep one unbroken evidence chain, and a retried request racing its
original never creates a second delivery, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio

from httpx import AsyncClient
from sqlmodel import func, select

from mailbox.evidence.audit import check_log
from mailbox.models import Delivery
from mailbox.operations.demo import demo_pdf
from mailbox.services import Services
from tests.factories import make_world, post_dispatch, token_for
from tests.fixtures.db import both_backends


@both_backends
async def test_concurrent_dispatches_keep_one_unbroken_chain(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    responses = await asyncio.gather(
        *(
            post_dispatch(client, headers, world.account.id, dossier_number=f"EP{n}")
            for n in range(12)
        )
    )
    assert [r.status_code for r in responses] == [201] * 12
    async with services.db.session() as session:
        report = await check_log(session, services.keys, checkpoints=False)
    assert report.broken is None
    assert report.checked == 24


@both_backends
async def test_racing_retries_with_one_idempotency_key_make_one_delivery(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    pdf = demo_pdf("Same notice")
    responses = await asyncio.gather(
        *(
            post_dispatch(
                client,
                headers,
                world.account.id,
                pdf=pdf,
                extra_headers={"Idempotency-Key": "retry-storm"},
            )
            for _ in range(6)
        )
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    async with services.db.session() as session:
        count = (await session.exec(select(func.count()).select_from(Delivery))).one()
    assert count == 1
