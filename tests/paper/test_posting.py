"""Posted and returned letters: through the API and the paper room's page, one by one or by
uploading the returned envelopes' codes (each line answered); print batches built from the
page and the command line, their download recorded on each delivery."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
import time

from httpx import AsyncClient
from pypdf import PdfReader
from sqlmodel import select

from mailbox.deliveries.inbox import timeline
from mailbox.models import Delivery, PrintBatch
from mailbox.operations.blob_sweep import sweep_blobs
from mailbox.paper.batches import build_print_batches
from mailbox.services import Services
from tests.factories import FORM_TOKEN_FIELD, log_in_page, token_for
from tests.fixtures.cli import run_cli
from tests.fixtures.db import both_backends
from tests.paper.conftest import PaperWorld, letter_of, paper_delivery
from tests.paper.test_letters import CODE


async def _types(services: Services, delivery_id: str) -> list[str]:
    async with services.db.session() as session:
        return [r.type for r in await timeline(session=session, delivery_id=delivery_id)]


async def _status(services: Services, delivery_id: str) -> Delivery:
    async with services.db.session() as session:
        found = await session.get(Delivery, delivery_id)
    assert found is not None
    return found


async def test_the_printer_marks_a_letter_posted_then_returned_through_the_api(
    client: AsyncClient, services: Services, paper: PaperWorld
) -> None:
    delivery = await paper_delivery(services, paper)
    printer = await token_for(client, paper.printer)
    base = f"/api/v1/deliveries/{delivery.id}/paper"
    posted = await client.post(f"{base}/posted", headers=printer, json={"tracking_number": "RR1"})
    assert posted.status_code == 200, posted.text
    body = posted.json()
    assert body["status"] == "paper_posted"
    assert "10 days after the letter was posted on" in body["legal_date"]
    again = await client.post(f"{base}/posted", headers=printer, json={})
    assert again.status_code == 409
    no_reason = await client.post(f"{base}/returned", headers=printer, json={})
    assert no_reason.status_code == 422
    assert [e["field"] for e in no_reason.json()["errors"]] == ["reason"]
    returned = await client.post(
        f"{base}/returned", headers=printer, json={"reason": "addressee unknown"}
    )
    assert returned.status_code == 200 and returned.json()["status"] == "paper_returned"
    types = await _types(services, delivery.id)
    assert types[-2:] == ["PaperPosted", "PaperReturned"]
    async with services.db.session() as session:
        records = await timeline(session=session, delivery_id=delivery.id)
    assert records[-2].details["tracking_number"] == "RR1"
    assert records[-1].details["reason"] == "addressee unknown"


async def test_nobody_but_the_office_and_its_printer_reports_letters(
    client: AsyncClient, services: Services, paper: PaperWorld
) -> None:
    delivery = await paper_delivery(services, paper)
    url = f"/api/v1/deliveries/{delivery.id}/paper/posted"
    auditor = await client.post(url, headers=await token_for(client, paper.world.auditor), json={})
    assert auditor.status_code == 403  # sees the delivery, may not report it
    owner = await client.post(url, headers=await token_for(client, paper.world.applicant), json={})
    assert owner.status_code == 403
    stranger = await client.post(
        url, headers=await token_for(client, paper.world.stranger), json={}
    )
    assert stranger.status_code == 404
    long_number = await client.post(
        url, headers=await token_for(client, paper.printer), json={"tracking_number": "x" * 65}
    )
    assert long_number.status_code == 422
    assert (await _status(services, delivery.id)).status == "paper_queued"


async def _form_token(client: AsyncClient, path: str) -> str:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    found = FORM_TOKEN_FIELD.search(page.text)
    assert found is not None
    return found.group(1)


@both_backends
async def test_the_paper_room_builds_a_batch_and_marks_letters_posted_and_returned(
    client: AsyncClient, services: Services, paper: PaperWorld
) -> None:
    first = await paper_delivery(services, paper, dossier_number="EP1")
    second = await paper_delivery(services, paper, dossier_number="EP2")
    await log_in_page(client, paper.printer)
    room = await client.get("/office/paper")
    assert "2 letters waiting for the next" in room.text
    assert '<a href="/office/paper">Paper room</a>' in room.text  # the header links to it
    token = await _form_token(client, "/office/paper")
    built = await client.post(
        "/office/paper/batches", data={"office_id": paper.world.office.id, "csrf_token": token}
    )
    assert built.status_code == 303 and built.headers["location"].endswith("done=built")
    async with services.db.session() as session:
        batch = (await session.exec(select(PrintBatch))).one()
    assert (batch.letters, batch.pages) == (2, 4)
    room = await client.get("/office/paper")
    assert f"/office/paper/batches/{batch.id}/pdf" in room.text
    manifest = await client.get(f"/office/paper/batches/{batch.id}/manifest")
    rows = list(csv.DictReader(io.StringIO(manifest.text)))
    assert [(r["position"], r["delivery_id"], r["first_page"]) for r in rows] == [
        ("1", first.id, "1"),
        ("2", second.id, "3"),
    ]
    pdf = await client.get(f"/office/paper/batches/{batch.id}/pdf")
    assert pdf.status_code == 200
    # The printer can check what it received, as with any other download.
    digest = base64.b64encode(hashlib.sha256(pdf.content).digest()).decode()
    assert pdf.headers["Repr-Digest"] == f"sha-256=:{digest}:"
    assert len(PdfReader(io.BytesIO(pdf.content)).pages) == 4
    for delivery in (first, second):  # the download is recorded on each delivery
        assert (await _types(services, delivery.id))[-1] == "ContentAccess"
    posted = await client.post(
        f"/office/paper/deliveries/{first.id}/posted",
        data={"tracking_number": "RR9", "csrf_token": token},
    )
    assert posted.status_code == 303 and posted.headers["location"].endswith("done=posted")
    returned = await client.post(
        f"/office/paper/deliveries/{first.id}/returned",
        data={"reason": "moved away", "csrf_token": token},
    )
    assert returned.status_code == 303
    assert (await _status(services, first.id)).status == "paper_returned"
    refused = await client.post(
        f"/office/paper/deliveries/{second.id}/returned",
        data={"reason": "moved away", "csrf_token": token},
    )
    assert refused.status_code == 409  # never posted
    assert "cannot go from paper_queued to paper_returned" in refused.text
    forged = await client.post(
        f"/office/paper/deliveries/{second.id}/posted", data={"csrf_token": "forged"}
    )
    assert forged.status_code == 403
    assert (await _status(services, second.id)).status == "paper_queued"


async def test_an_upload_of_returned_letters_answers_each_line(
    client: AsyncClient, services: Services, paper: PaperWorld
) -> None:
    deliveries = [await paper_delivery(services, paper, dossier_number=f"EP{n}") for n in range(3)]
    codes = []
    for delivery in deliveries:
        _, pdf = await letter_of(services, delivery.id)
        found = CODE.search(pdf.pages[0].extract_text())
        assert found is not None
        codes.append(found.group(1))
    printer = await token_for(client, paper.printer)
    for delivery in deliveries[:2]:
        await client.post(
            f"/api/v1/deliveries/{delivery.id}/paper/posted", headers=printer, json={}
        )
    mistyped = codes[0][:-1] + ("A" if codes[0][-1] != "A" else "B")
    upload = "\n".join(
        [
            "code,reason",
            f"{codes[0].lower()},refused by addressee",  # a code, in lower case
            deliveries[1].id,  # a delivery id, the default reason
            "",
            mistyped,  # a typing mistake: the check character does not match
            codes[2],  # never posted
            "dlv_nothing",
            codes[0],  # returned already
        ]
    )
    await log_in_page(client, paper.printer)
    token = await _form_token(client, "/office/paper")
    answer = await client.post(
        "/office/paper/returns",
        data={"office_id": paper.world.office.id, "reason": "undeliverable", "csrf_token": token},
        files={"file": ("returns.csv", upload.encode(), "text/csv")},
    )
    assert answer.status_code == 200, answer.text
    assert "2 marked returned, 4 lines refused" in answer.text
    rows = re.findall(r"<tr class=\"(ok|refused)\"><td>(\d+)</td>", answer.text)
    assert rows == [
        ("ok", "2"),
        ("ok", "3"),
        ("refused", "5"),
        ("refused", "6"),
        ("refused", "7"),
        ("refused", "8"),
    ]
    assert "not a known retrieval code or delivery id" in answer.text
    assert "cannot go from paper_queued to paper_returned" in answer.text
    async with services.db.session() as session:
        records = await timeline(session=session, delivery_id=deliveries[0].id)
        second = await timeline(session=session, delivery_id=deliveries[1].id)
    assert records[-1].details["reason"] == "refused by addressee"
    assert second[-1].details["reason"] == "undeliverable"
    assert (await _status(services, deliveries[2].id)).status == "paper_queued"


async def test_the_command_line_builds_the_batches_and_says_what(
    services: Services, paper: PaperWorld
) -> None:
    await paper_delivery(services, paper)
    code, out, err = await run_cli(services.settings, "--json", "paper", "batch")
    assert code == 0, err
    (batch,) = json.loads(out)["batches"]
    assert (batch["letters"], batch["pages"]) == (1, 2)
    code, out, _ = await run_cli(services.settings, "paper", "batch")
    assert code == 0 and "No letters waiting" in out
    code, _, err = await run_cli(services.settings, "paper", "batch", "--office", "NOPE")
    assert code == 2 and "No office NOPE" in err


async def test_the_blob_sweep_keeps_letters_and_print_batches(
    services: Services, paper: PaperWorld
) -> None:
    delivery = await paper_delivery(services, paper)
    (batch,) = await build_print_batches(services, actor="test")
    letter, _ = await letter_of(services, delivery.id)
    paths = [
        services.settings.effective_blob_dir / b[:2] / b[2:4] / b
        for b in (letter.blob_id, batch.blob_id, batch.manifest_blob_id)
    ]
    month_ago = time.time() - 30 * 86400
    for path in paths:
        os.utime(path, (month_ago, month_ago))
    report = await sweep_blobs(services)
    assert report.orphans_removed == 0
    assert all(path.exists() for path in paths)
