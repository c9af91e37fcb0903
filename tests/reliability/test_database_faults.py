"""Our database failing is never the sender's problem and never doubles a delivery: PostgreSQL
backends terminated (pg_terminate_backend) while dispatches run, or the connection cut just
before or just after the COMMIT of a dispatch, end in a 201 for a delivery that exists exactly
once, or a 503 with Retry-After for one that does not exist; never a 500, never a duplicate,
and the evidence chain stays unbroken."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import pytest
from httpx import AsyncClient
from sqlalchemy.engine import make_url
from sqlmodel import func, select

from mailbox.config import Settings
from mailbox.evidence.audit import check_log
from mailbox.models import Delivery, Document, EvidenceRecord
from mailbox.services import Services
from tests.factories import make_world, post_dispatch, token_for
from tests.fixtures.db import PG_HOST

pytestmark = pytest.mark.postgres

POSTGRES = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


async def _terminate_backends(database: str) -> int:
    import asyncpg

    connection = await asyncpg.connect(
        PG_HOST.replace("postgresql+asyncpg", "postgresql") + "/postgres", timeout=5
    )
    try:
        return int(
            await connection.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                database,
            )
        )
    finally:
        await connection.close()


async def _deliveries_by_dossier(services: Services) -> Counter[str]:
    async with services.db.session() as session:
        rows = (await session.exec(select(Delivery.dossier_number))).all()
    return Counter(rows)


async def _assert_chain_unbroken(services: Services) -> int:
    async with services.db.session() as session:
        report = await check_log(session, services.keys, checkpoints=False)
    assert report.broken is None
    return report.checked


@POSTGRES
async def test_backends_terminated_during_dispatches_never_answer_500_nor_duplicate(
    client: AsyncClient, services: Services, database_url: str
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    database = make_url(database_url).database
    requests = 24
    stop = asyncio.Event()
    terminated = 0

    async def killer() -> None:
        nonlocal terminated
        while not stop.is_set():
            await asyncio.sleep(0.25)
            terminated += await _terminate_backends(database)

    async def one(n: int):
        keyed = n % 2 == 0
        extra = {"Idempotency-Key": f"storm-{n}"} if keyed else None
        return n, await asyncio.wait_for(
            post_dispatch(
                client, headers, world.account.id, dossier_number=f"EP{n}", extra_headers=extra
            ),
            timeout=60,
        )

    killing = asyncio.create_task(killer())
    try:
        answers = []
        for wave in range(0, requests, 6):
            answers += await asyncio.gather(*(one(n) for n in range(wave, wave + 6)))
    finally:
        stop.set()
        await killing

    statuses = Counter(r.status_code for _, r in answers)
    served = {f"EP{n}" for n, r in answers if r.status_code == 201}
    stored = await _deliveries_by_dossier(services)
    print(f"\nfault run: {requests} dispatches, {terminated} backends terminated, {dict(statuses)}")
    assert set(statuses) <= {201, 503}, {n: r.text for n, r in answers if r.status_code >= 500}
    for _, response in answers:
        if response.status_code == 503:
            assert int(response.headers["Retry-After"]) > 0
            assert response.json()["type"] == "/problems/database-unavailable"
    assert max(stored.values(), default=1) == 1  # nothing duplicated
    assert set(stored) == served  # every 201 was delivered, nothing answered 503 was
    answered = {r.json()["document"]["dossier_number"] for _, r in answers if r.status_code == 201}
    assert answered == served
    assert await _assert_chain_unbroken(services) == 2 * len(served)


# --- the connection cut around one COMMIT --------------------------------------------------


@dataclass
class CuttingProxy:
    """A TCP proxy in front of PostgreSQL that cuts the connection of the transaction that
    inserted a delivery at its COMMIT, once: ``"before"`` the COMMIT reaches the server (it
    rolls back), or ``"after"`` the server answered it (it committed; the client never
    hears so). Everything else passes through unchanged."""

    upstream_port: int
    armed: str | None = None
    cuts: list[str] = field(default_factory=list)
    port: int = 0

    async def serve(self) -> asyncio.Server:
        server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        return server

    async def _connection(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        server_in, server_out = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        drop_reply = asyncio.Event()

        def close() -> None:
            for writer in (client_out, server_out):
                with contextlib.suppress(Exception):
                    writer.transport.abort()

        async def upstream() -> None:
            inserted, tail = False, b""
            while data := await client_in.read(65536):
                window = tail + data
                tail = window[-64:]
                inserted = inserted or b"INSERT INTO delivery" in window
                if b"COMMIT" in window and inserted and self.armed:
                    mode, self.armed = self.armed, None
                    self.cuts.append(mode)
                    if mode == "before":
                        close()
                        return
                    drop_reply.set()
                elif b"COMMIT" in window or b"ROLLBACK" in window:
                    inserted = False
                server_out.write(data)
                await server_out.drain()

        async def downstream() -> None:
            while data := await server_in.read(65536):
                if drop_reply.is_set():
                    close()  # the server committed and said so; the client never hears it
                    return
                client_out.write(data)
                await client_out.drain()

        # Whichever side ends (the server terminated the backend, the client closed), the
        # other side hears it at once, as it would without the proxy.
        directions = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
        with contextlib.suppress(ConnectionError, OSError):
            await asyncio.wait(directions, return_when=asyncio.FIRST_COMPLETED)
        close()
        for direction in directions:
            direction.cancel()


class TestConnectionCutAtCommit:
    """The service reaches PostgreSQL through a :class:`CuttingProxy`."""

    @pytest.fixture
    async def proxy(self, database_url: str) -> AsyncIterator[CuttingProxy]:
        cutting = CuttingProxy(upstream_port=make_url(database_url).port or 5432)
        server = await cutting.serve()
        try:
            yield cutting
        finally:
            server.close()

    @pytest.fixture
    def settings(self, settings: Settings, proxy: CuttingProxy) -> Settings:
        """The base settings, with the database reached through the proxy (built anew: the
        effective database URL is cached on the instance)."""
        url = make_url(settings.effective_database_url).set(port=proxy.port)
        return Settings(
            **{**settings.model_dump(), "database_url": url.render_as_string(hide_password=False)}
        )

    @POSTGRES
    @pytest.mark.parametrize("cut", ["before", "after"])
    async def test_connection_cut_at_commit_answers_the_one_delivery_without_a_key(
        self,
        client: AsyncClient,
        services: Services,
        proxy: CuttingProxy,
        cut: str,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        world = await make_world(services)
        headers = await token_for(client, world.dispatcher)
        proxy.armed = cut

        with caplog.at_level(logging.WARNING, "mailbox"):
            response = await post_dispatch(client, headers, world.account.id, dossier_number="EP7")

        assert proxy.cuts == [cut]
        assert response.status_code == 201, response.text
        assert "Idempotent-Replayed" not in response.headers
        assert await _deliveries_by_dossier(services) == Counter({"EP7": 1})
        async with services.db.session() as session:
            documents = (await session.exec(select(func.count()).select_from(Document))).one()
            records = (await session.exec(select(func.count()).select_from(EvidenceRecord))).one()
        assert (documents, records) == (1, 2)
        assert response.json()["id"] == (await _only_delivery(services)).id
        assert len(response.json()["timeline"]) == 2
        await _assert_chain_unbroken(services)
        answered_from_rows = any("committed before" in r.getMessage() for r in caplog.records)
        assert answered_from_rows == (cut == "after")


async def _only_delivery(services: Services) -> Delivery:
    async with services.db.session() as session:
        return (await session.exec(select(Delivery))).one()


@POSTGRES
async def test_a_read_whose_connection_stays_lost_answers_503_not_500(
    client: AsyncClient, services: Services, database_url: str
) -> None:
    """A read route (no retry of its own) whose backend is terminated while it waits on a lock
    answers 503 with Retry-After; the next read is served."""
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    created = await post_dispatch(client, headers, world.account.id)
    delivery_id = created.json()["id"]
    database = make_url(database_url).database

    blocker = await asyncpg.connect(
        PG_HOST.replace("postgresql+asyncpg", "postgresql") + f"/{database}", timeout=5
    )
    try:
        # Hold the delivery table so the read waits on it; then terminate the read's backend.
        await blocker.execute("BEGIN; LOCK TABLE delivery IN ACCESS EXCLUSIVE MODE")
        reading = asyncio.create_task(
            client.get(f"/api/v1/dispatches/{delivery_id}", headers=headers)
        )
        for _ in range(100):
            waiting = await blocker.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'",
                database,
            )
            if waiting:
                break
            await asyncio.sleep(0.02)
        response = await reading
    finally:
        await blocker.close()

    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    assert response.json()["type"] == "/problems/database-unavailable"
    again = await client.get(f"/api/v1/dispatches/{delivery_id}", headers=headers)
    assert again.status_code == 200
