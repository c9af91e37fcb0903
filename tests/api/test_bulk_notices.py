"""Notices in bulk: a batch's manifest may name ``.json`` and ``.xml`` documents beside PDFs.
Each notice is checked against its schema like a single dispatch: a bad one is one refused
item naming its fields, the others are delivered, and each is fetched back as canonical
JSON."""

from __future__ import annotations

import json

from httpx import AsyncClient

from mailbox.deliveries.batch_runner import work_batches
from mailbox.services import Services
from mailbox.signing.detached import canonical_json
from tests.api.test_data_notices import NOTICE
from tests.batches import batch_upload, manifest_csv, manifest_jsonl, zip_of
from tests.factories import make_world, small_pdf, token_for
from tests.fixtures.db import both_backends

XML = b'<?xml version="1.0"?>\n<notice><status>entered</status></notice>\n'


def _notice(n: int) -> dict[str, str]:
    number = f"2026-5{n:05d}"
    return {**NOTICE, "national_application_number": number, "applicant_reference": f"N{n}"}


def _row(account_id: str, n: int, filename: str, kind: str = "national-phase-entry") -> dict:
    return {
        "recipient_account_id": account_id,
        "kind_code": kind,
        "dossier_number": f"PCT/EP2026/{n:06d}",
        "title": f"National-phase entry notice {n}",
        "filename": filename,
        "office_reference": f"NPE-{n}",
    }


async def _items(client: AsyncClient, headers: dict[str, str], batch_id: str) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = await client.get(
            f"/api/v1/dispatch-batches/{batch_id}/items", headers=headers, params=params
        )
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if not cursor:
            return items


@both_backends
async def test_a_batch_of_50_notices_refuses_the_invalid_and_delivers_the_rest_as_json(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    rows, files, sent = [], {}, {}
    for n in range(1, 51):
        name = f"notice-{n}.json"
        rows.append(_row(world.account.id, n, name))
        sent[f"NPE-{n}"] = _notice(n)
        files[name] = json.dumps(sent[f"NPE-{n}"], indent=2).encode()
    files["notice-7.json"] = json.dumps({**_notice(7), "status": "maybe"}).encode()
    files["notice-19.json"] = json.dumps({**_notice(19), "designated_office": "jpn"}).encode()
    files["notice-33.json"] = b'{"notice": "national-phase-entry/1", "notice": "twice"}'
    files["notice-41.json"] = b"not JSON at all"
    # A PDF and an XML document beside them, in the same batch.
    rows.append({**_row(world.account.id, 51, "letter.pdf", "R71"), "dossier_number": "EP1.1"})
    files["letter.pdf"] = small_pdf("A letter beside the notices")
    rows.append(_row(world.account.id, 52, "notice.xml", "NPE-XML"))
    files["notice.xml"] = XML

    response = await client.post(
        "/api/v1/dispatch-batches",
        headers=headers,
        files=batch_upload(manifest_csv(rows), zip_of(files)),
    )
    assert response.status_code == 202, response.text
    await work_batches(services, worker_id="test")

    done = (await client.get(response.headers["location"], headers=headers)).json()
    assert (done["status"], done["accepted"], done["refused"]) == ("done", 48, 4)
    items = await _items(client, headers, done["id"])
    refused = {i["office_reference"]: i["problem"] for i in items if i["status"] == "refused"}
    assert set(refused) == {"NPE-7", "NPE-19", "NPE-33", "NPE-41"}
    assert [e["field"] for e in refused["NPE-7"]["errors"]] == ["status"]
    assert [e["field"] for e in refused["NPE-19"]["errors"]] == ["designated_office"]
    assert "twice" in refused["NPE-33"]["detail"]
    assert refused["NPE-41"]["type"] == "/problems/invalid-document"
    assert all(problem["evidence_id"] for problem in refused.values())

    applicant = await token_for(client, world.applicant)
    accepted = {i["office_reference"]: i["delivery_id"] for i in items if i["status"] == "accepted"}
    for reference, delivery_id in accepted.items():
        fetched = await client.get(f"/api/v1/deliveries/{delivery_id}/document", headers=applicant)
        assert fetched.status_code == 200, fetched.text
        if reference == "NPE-51":
            assert fetched.headers["content-type"] == "application/pdf"
        elif reference == "NPE-52":
            assert (fetched.headers["content-type"], fetched.content) == ("application/xml", XML)
        else:
            assert fetched.headers["content-type"] == "application/json"
            assert fetched.content == canonical_json(sent[reference])


async def test_notices_sent_as_file_parts_are_delivered_as_json(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    rows = [_row(world.account.id, n, f"n{n}.json") for n in (1, 2)]
    parts = [("manifest", ("lines.jsonl", manifest_jsonl(rows), "application/jsonl"))]
    parts += [
        ("files", (f"n{n}.json", json.dumps(_notice(n)).encode(), "application/json"))
        for n in (1, 2)
    ]

    response = await client.post("/api/v1/dispatch-batches", headers=headers, files=parts)
    assert response.status_code == 202, response.text
    await work_batches(services, worker_id="test")

    done = (await client.get(response.headers["location"], headers=headers)).json()
    assert (done["accepted"], done["refused"]) == (2, 0)
    items = await _items(client, headers, done["id"])
    applicant = await token_for(client, world.applicant)
    for item in items:
        url = f"/api/v1/deliveries/{item['delivery_id']}"
        described = (await client.get(url, headers=applicant)).json()
        assert described["document"]["media_type"] == "application/json"
        assert described["document"]["filename"].endswith(".json")
