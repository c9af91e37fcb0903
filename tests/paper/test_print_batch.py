"""A print batch of 1,000 letters, checked as the printer will use it: one sealed PDF whose
page count is the letters' pages, each cover page with its recipient's address in the
envelope window and a QR code that leads to the retrieval page, and a manifest saying where
each letter starts. (About 35 s of CPU on two cores, most of it rendering the letters and
reading them back; the time and memory of the batch itself are measured by
bench/print_batch.py.)"""

from __future__ import annotations

import csv
import io
import re

import pytest
from pypdf import PdfReader
from sqlmodel import select

from mailbox.models import PaperLetter
from mailbox.notifications.outbox import drain_until_idle
from mailbox.paper.batches import build_print_batches
from mailbox.paper.codes import normalise_code
from mailbox.services import Services
from mailbox.signing.seal import validate_sealed_pdf
from tests.paper.bulk import address_of, paper_deliveries
from tests.paper.conftest import PaperWorld
from tests.paper.helpers import decode, expected_matrix, placed_text, qr_matrix, window_text

LETTERS = 1000
CODE = re.compile(r"\b([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z])\b")


@pytest.mark.slow
async def test_a_batch_of_1000_letters_puts_each_address_in_the_window(
    services: Services, paper: PaperWorld
) -> None:
    deliveries = await paper_deliveries(services, paper.world, LETTERS)
    await drain_until_idle(services, worker_id="test", lanes=1)
    (batch,) = await build_print_batches(services, actor="test")
    assert batch.letters == LETTERS
    pdf_bytes = services.blobs.get(batch.blob_id)
    validation = validate_sealed_pdf(pdf_bytes, trust_root=services.keys.root_cert)
    assert validation.ok, validation
    reader = PdfReader(io.BytesIO(pdf_bytes))
    assert len(reader.pages) == batch.pages == 2 * LETTERS
    manifest = list(
        csv.DictReader(io.StringIO(services.blobs.get(batch.manifest_blob_id).decode()))
    )
    assert [int(row["position"]) for row in manifest] == list(range(1, LETTERS + 1))
    assert {row["delivery_id"] for row in manifest} == {d.id for d in deliveries}
    names = {d.id: n for n, d in enumerate(deliveries)}
    checked = 0
    for row in manifest:
        cover = reader.pages[int(row["first_page"]) - 1]
        n = names[row["delivery_id"]]
        if n == 0:
            expected = [paper.world.account.name, "Hauptstr. 1", "80331 München"]
        else:
            name, address = address_of(n)
            expected = [name, *address.splitlines()]
        placed = placed_text(cover)
        assert window_text(placed) == expected, row
        assert row["address"] == "\n".join(expected)
        text = " ".join(p.text for p in placed)
        assert row["delivery_id"] in text
        code = normalise_code(CODE.search(text).group(1))
        url = f"http://mailbox.test/retrieve?code={code}"
        matrix = qr_matrix(cover)
        assert decode(matrix) == url, row  # what a scanner reads
        if checked < 20:  # and, for a sample, the very modules of the code
            assert matrix == expected_matrix(url), row
            checked += 1
    async with services.db.session() as session:
        letters = (await session.exec(select(PaperLetter))).all()
    assert all(letter.batch_id == batch.id for letter in letters)
