"""Bulk dispatch over the API: one upload of a manifest and its PDFs becomes a batch, whose
items are dispatched in the background each exactly once, each bad one refused with its
problem; a resubmission serves nothing again."""

from __future__ import annotations

import asyncio

from httpx import AsyncClient
from sqlmodel import func, select

from mailbox.deliveries.batch_runner import work_batches
from mailbox.models import Delivery
from mailbox.services import Services
from tests.batches import batch_upload, manifest_csv, manifest_jsonl, pdfs_for, rows_for, zip_of
from tests.factories import make_world, token_for
from tests.fixtures.db import both_backends


async def _deliveries(services: Services) -> int:
    async with services.db.session() as session:
        return (await session.exec(select(func.count()).select_from(Delivery))).one()


async def _all_items(client: AsyncClient, headers: dict[str, str], batch_id: str) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        page = await client.get(
            f"/api/v1/dispatch-batches/{batch_id}/items", headers=headers, params=params
        )
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if not cursor:
            return items


@both_backends
async def test_bulk_dispatch_delivers_each_line_once_and_refuses_the_bad_ones(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    rows = rows_for(world.account.id, 20)
    files = pdfs_for(rows)
    rows[4]["recipient_account_id"] = "acc_nobody"
    files[rows[9]["filename"]] = b"this is not a PDF"
    upload = batch_upload(manifest_csv(rows), zip_of(files))

    response = await client.post("/api/v1/dispatch-batches", headers=headers, files=upload)
    assert response.status_code == 202, response.text
    batch = response.json()
    assert (batch["status"], batch["total"], batch["pending"]) == ("queued", 20, 20)
    assert response.headers["location"] == f"/api/v1/dispatch-batches/{batch['id']}"

    await work_batches(services, worker_id="test")

    done = (await client.get(response.headers["location"], headers=headers)).json()
    assert (done["status"], done["accepted"], done["refused"], done["pending"]) == (
        "done",
        18,
        2,
        0,
    )
    items = await _all_items(client, headers, batch["id"])
    assert [i["line"] for i in items] == list(range(2, 22))
    refused = {i["office_reference"]: i["problem"] for i in items if i["status"] == "refused"}
    assert set(refused) == {"REF-5", "REF-10"}
    assert refused["REF-5"]["status"] == 422
    assert "recipient_account_id" in [e["field"] for e in refused["REF-5"]["errors"]]
    assert refused["REF-10"]["type"] == "/problems/invalid-document"
    assert refused["REF-10"]["evidence_id"]
    accepted = [i for i in items if i["status"] == "accepted"]
    assert len({i["delivery_id"] for i in accepted}) == 18
    assert not any(i["replayed"] for i in accepted)
    assert await _deliveries(services) == 18
    delivered = await client.get(
        f"/api/v1/dispatches/{accepted[0]['delivery_id']}", headers=headers
    )
    assert delivered.json()["status"] == "available"

    again = await client.post("/api/v1/dispatch-batches", headers=headers, files=upload)
    assert again.status_code == 202, again.text
    await work_batches(services, worker_id="test")
    replayed = await _all_items(client, headers, again.json()["id"])
    assert await _deliveries(services) == 18
    assert {i["delivery_id"] for i in replayed if i["status"] == "accepted"} == {
        i["delivery_id"] for i in accepted
    }
    assert all(i["replayed"] for i in replayed if i["status"] == "accepted")
    assert sum(i["status"] == "refused" for i in replayed) == 2


async def test_bulk_dispatch_takes_json_lines_and_pdfs_as_parts(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    rows = rows_for(world.account.id, 3)
    parts = [("manifest", ("lines.jsonl", manifest_jsonl(rows), "application/jsonl"))]
    parts += [("files", (name, data, "application/pdf")) for name, data in pdfs_for(rows).items()]
    response = await client.post("/api/v1/dispatch-batches", headers=headers, files=parts)
    assert response.status_code == 202, response.text
    await work_batches(services, worker_id="test")
    done = (await client.get(response.headers["location"], headers=headers)).json()
    assert (done["accepted"], done["refused"]) == (3, 0)


async def test_a_zip_entry_that_lies_about_its_size_refuses_that_line_only(
    client: AsyncClient, services: Services
) -> None:
    """The ZIP's directory says 1,000 bytes; the entry inflates to 2 MB: the line is refused
    (nothing past the claimed size is inflated) and recorded; the others are delivered."""
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    rows = rows_for(world.account.id, 3)
    files = pdfs_for(rows)
    files["doc-2.pdf"] = files["doc-2.pdf"] + b"%" * (2 * 1024 * 1024)
    archive = bytearray(zip_of(files))
    size = len(files["doc-2.pdf"]).to_bytes(4, "little")
    assert archive.count(size) == 2  # the local header and the central directory's entry
    archive = archive.replace(size, (1000).to_bytes(4, "little"))
    upload = batch_upload(manifest_csv(rows), bytes(archive))
    response = await client.post("/api/v1/dispatch-batches", headers=headers, files=upload)
    assert response.status_code == 202, response.text
    await work_batches(services, worker_id="test")
    items = await _all_items(client, headers, response.json()["id"])
    assert [i["status"] for i in items] == ["accepted", "refused", "accepted"]
    problem = items[1]["problem"]
    assert problem["type"] == "/problems/invalid-document"
    assert "doc-2.pdf" in problem["detail"] and problem["evidence_id"]
    assert await _deliveries(services) == 2


async def test_the_reference_clients_column_names_are_understood(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    rows = rows_for(world.account.id, 2)
    names = {"recipient_account_id": "recipient", "kind_code": "kind", "filename": "file"}
    names["office_reference"] = "reference"
    aliased = [{names.get(k, k): v for k, v in row.items()} for row in rows]
    columns = [names.get(c, c) for c in rows[0]]
    upload = batch_upload(manifest_csv(aliased, columns=columns), zip_of(pdfs_for(rows)))
    response = await client.post("/api/v1/dispatch-batches", headers=headers, files=upload)
    assert response.status_code == 202, response.text
    await work_batches(services, worker_id="test")
    done = (await client.get(response.headers["location"], headers=headers)).json()
    assert (done["accepted"], done["refused"]) == (2, 0)


@both_backends
async def test_two_workers_share_a_batch_and_take_no_item_twice(
    client: AsyncClient, services: Services, settings
) -> None:
    """Side by side (on PostgreSQL with FOR UPDATE SKIP LOCKED), two workers claim disjoint
    chunks of one batch: every item is dispatched once and both did part of it."""
    from tests.batches import queue_batch

    services.settings = settings.model_copy(update={"batch_chunk_size": 4})
    world = await make_world(services)
    batch_id = await queue_batch(
        services, world.office.id, rows_for(world.account.id, 24), actor="user:test"
    )
    first, second = await asyncio.gather(
        work_batches(services, worker_id="one", batch_id=batch_id),
        work_batches(services, worker_id="two", batch_id=batch_id),
    )
    assert sum(r.accepted for r in first) + sum(r.accepted for r in second) == 24
    assert first and second
    assert not any(r.lost_lease for r in (*first, *second))
    assert await _deliveries(services) == 24
