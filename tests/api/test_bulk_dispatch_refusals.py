"""Bulk dispatch uploads refused before anything is queued: a manifest of the wrong shape (one
problem naming each bad line), a ZIP missing a file, an oversized or bombing ZIP entry, an
upload past its limit, another media type; and nothing of a refused upload stays on disk."""

from __future__ import annotations

import io
import os
import time
import zipfile
from pathlib import Path

from httpx import AsyncClient
from sqlmodel import func, select

from mailbox.config import Settings
from mailbox.models import DispatchBatch
from mailbox.services import Services
from tests.batches import batch_upload, manifest_csv, manifest_jsonl, pdfs_for, rows_for, zip_of
from tests.factories import make_world, token_for


async def _batches(services: Services) -> int:
    async with services.db.session() as session:
        return (await session.exec(select(func.count()).select_from(DispatchBatch))).one()


def _nothing_left(settings: Settings) -> bool:
    root = Path(settings.data_dir) / "batches"
    return not root.exists() or not any(root.iterdir())


async def _post(client: AsyncClient, services: Services, files, **kwargs):
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    return await client.post("/api/v1/dispatch-batches", headers=headers, files=files, **kwargs)


async def test_a_manifest_with_several_bad_lines_is_refused_naming_each(
    client: AsyncClient, services: Services, settings: Settings
) -> None:
    rows = rows_for("acc_x", 6)
    files = pdfs_for(rows)
    rows[0]["kind_code"] = "R 71!"
    rows[2]["title"] = ""
    rows[3]["office_reference"] = rows[1]["office_reference"]
    rows[4]["dossier_number"] = "<script>"
    response = await _post(client, services, batch_upload(manifest_csv(rows), zip_of(files)))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "nothing was dispatched" in problem["detail"]
    fields = {e["field"]: e["message"] for e in problem["errors"]}
    assert fields == {
        "line 2: kind_code": "1-32 letters, digits, '.', '_' or '-'",
        "line 4: title": "must be 1-500 characters",
        "line 5: office_reference": "already used on line 3",
        "line 6: dossier_number": "1-64 letters, digits, spaces, '.', '/', '-'",
    }
    assert await _batches(services) == 0
    assert _nothing_left(settings)


async def test_a_manifest_with_missing_and_unknown_columns_is_refused(
    client: AsyncClient, services: Services
) -> None:
    columns = ["recipient_account_id", "kind_code", "title", "filename", "office_reference"]
    rows = [{c: r[c] for c in columns} for r in rows_for("acc_x", 2)]
    manifest = manifest_csv(rows, columns=columns).replace(b"office_reference", b"our_ref")
    response = await _post(client, services, batch_upload(manifest, zip_of(pdfs_for(rows))))
    assert response.status_code == 422
    messages = [f"{e['field']}: {e['message']}" for e in response.json()["errors"]]
    assert "header: our_ref: unknown column" in messages
    assert "header: missing column(s): dossier_number, office_reference" in messages


async def test_json_lines_that_are_not_objects_are_named(
    client: AsyncClient, services: Services
) -> None:
    rows = rows_for("acc_x", 2)
    manifest = manifest_jsonl(rows) + b"[1, 2]\n{not json\n"
    upload = batch_upload(manifest, zip_of(pdfs_for(rows)), name="lines.jsonl")
    response = await _post(client, services, upload)
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"line 3", "line 4"}


async def test_a_zip_missing_a_file_is_refused_naming_its_line(
    client: AsyncClient, services: Services, settings: Settings
) -> None:
    rows = rows_for("acc_x", 3)
    files = pdfs_for(rows)
    del files["doc-2.pdf"]
    response = await _post(client, services, batch_upload(manifest_csv(rows), zip_of(files)))
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "line 3: filename", "message": "'doc-2.pdf' is not in the upload"}
    ]
    assert await _batches(services) == 0
    assert _nothing_left(settings)


async def test_a_zip_entry_larger_than_the_upload_limit_is_refused_before_it_is_inflated(
    client: AsyncClient, services: Services, settings: Settings
) -> None:
    """A ZIP bomb: 64 MiB of zeros deflate to about 64 KiB; the entry's size is refused from
    the central directory (the limit is 8 MiB here), nothing is inflated."""
    rows = rows_for("acc_x", 2)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("doc-1.pdf", pdfs_for(rows)["doc-1.pdf"])
        with archive.open("doc-2.pdf", "w", force_zip64=True) as entry:
            for _ in range(64):
                entry.write(bytes(1024 * 1024))
    assert len(buffer.getvalue()) < 1024 * 1024
    upload = batch_upload(manifest_csv(rows), buffer.getvalue())
    response = await _post(client, services, upload)
    assert response.status_code == 413, response.text
    assert response.json()["errors"] == [
        {"field": "archive: doc-2.pdf", "message": f"{64 * 1024 * 1024} bytes"}
    ]
    assert await _batches(services) == 0
    assert _nothing_left(settings)


async def test_an_archive_that_is_no_zip_is_refused(
    client: AsyncClient, services: Services
) -> None:
    rows = rows_for("acc_x", 1)
    response = await _post(client, services, batch_upload(manifest_csv(rows), b"PK not really"))
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "archive", "message": "not a ZIP file"}]


async def test_a_pdf_part_larger_than_the_upload_limit_is_refused_while_it_streams(
    client: AsyncClient, services: Services, settings: Settings
) -> None:
    rows = rows_for("acc_x", 1)
    parts = [
        ("manifest", ("m.csv", manifest_csv(rows), "text/csv")),
        ("files", ("doc-1.pdf", bytes(settings.upload_limit_bytes + 1), "application/pdf")),
    ]
    response = await _post(client, services, parts)
    assert response.status_code == 413
    assert response.json()["errors"][0]["field"] == "files: doc-1.pdf"
    assert _nothing_left(settings)


async def test_an_upload_without_a_manifest_or_pdfs_is_refused(
    client: AsyncClient, services: Services
) -> None:
    rows = rows_for("acc_x", 1)
    only_zip = {"archive": ("pdfs.zip", zip_of(pdfs_for(rows)), "application/zip")}
    response = await _post(client, services, only_zip)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "manifest"
    only_manifest = {"manifest": ("m.csv", manifest_csv(rows), "text/csv")}
    response = await _post(client, services, only_manifest)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "archive"


async def test_a_body_that_is_not_multipart_is_refused_with_415(
    client: AsyncClient, services: Services
) -> None:
    response = await _post(client, services, None, json={"manifest": "x"})
    assert response.status_code == 415


async def test_only_dispatchers_upload_batches(client: AsyncClient, services: Services) -> None:
    world = await make_world(services)
    rows = rows_for(world.account.id, 1)
    upload = batch_upload(manifest_csv(rows), zip_of(pdfs_for(rows)))
    for user in (world.auditor, world.applicant):
        headers = await token_for(client, user)
        response = await client.post("/api/v1/dispatch-batches", headers=headers, files=upload)
        assert response.status_code == 403
    anonymous = await client.post("/api/v1/dispatch-batches", files=upload)
    assert anonymous.status_code == 401


async def test_another_offices_batch_does_not_exist_for_you(
    client: AsyncClient, services: Services
) -> None:
    world, other = await make_world(services), await make_world(services)
    rows = rows_for(world.account.id, 1)
    headers = await token_for(client, world.dispatcher)
    upload = batch_upload(manifest_csv(rows), zip_of(pdfs_for(rows)))
    created = await client.post("/api/v1/dispatch-batches", headers=headers, files=upload)
    location = created.headers["location"]
    auditor = await token_for(client, world.auditor)
    assert (await client.get(location, headers=auditor)).status_code == 200
    stranger = await token_for(client, other.dispatcher)
    assert (await client.get(location, headers=stranger)).status_code == 404
    assert (await client.get(location + "/items", headers=stranger)).status_code == 404
    listed = await client.get("/api/v1/dispatch-batches", headers=stranger)
    assert listed.json()["items"] == []
    bad_cursor = await client.get(location + "/items", headers=headers, params={"cursor": "abc"})
    assert bad_cursor.status_code == 422


async def test_an_upload_cut_off_a_day_ago_is_removed_by_the_next_worker_round(
    services: Services, settings: Settings
) -> None:
    from mailbox.deliveries.batch_runner import work_batches
    from mailbox.deliveries.batches import new_upload

    cut_off, in_progress = new_upload(services), new_upload(services)
    for upload in (cut_off, in_progress):
        upload.manifest("m.csv").write(b"recipient_account_id")
    day_ago = time.time() - 25 * 3600
    for path in (cut_off.path, *cut_off.path.rglob("*")):
        os.utime(path, (day_ago, day_ago))
    await work_batches(services, worker_id="test")
    assert not cut_off.path.exists()
    assert in_progress.path.exists()
