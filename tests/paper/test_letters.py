"""Letters: a paper delivery's ``paper.job`` becomes a print-ready letter (a DIN 5008 form B
cover page with the address in the envelope window, the legal clock's sentence, the retrieval
code and its QR code; then the sealed document), stored encrypted; our disk failing leaves
the job waiting and the delivery untouched."""

from __future__ import annotations

import errno
import re
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from mailbox import clock
from mailbox.deliveries.legal_clock import explain, letter_sentence
from mailbox.deliveries.paper_rule import after_alerts_failed
from mailbox.deliveries.rules import consign, mark_paper_posted, relay_to_paper
from mailbox.models import Delivery, OutboxKind, OutboxMessage, PaperLetter, RetrievalCode
from mailbox.notifications.outbox import drain_until_idle
from mailbox.paper.codes import code_hash, normalise_code
from mailbox.paper.letters import LAYOUT
from mailbox.services import Services
from mailbox.storage.blobs import LocalBlobStore, load_master_key
from tests.factories import deliver
from tests.fixtures.filesystems import failing_write
from tests.paper.conftest import PaperWorld, letter_of, paper_delivery
from tests.paper.helpers import decode, expected_matrix, placed_text, qr_matrix, window_text

CODE = re.compile(r"\b([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z])\b")


async def test_a_paper_delivery_gets_a_letter_with_the_address_in_the_window(
    services: Services, paper: PaperWorld
) -> None:
    delivery = await paper_delivery(services, paper)
    letter, pdf = await letter_of(services, delivery.id)
    assert len(pdf.pages) == letter.pages == 2  # the cover, then the one-page sealed document
    cover = pdf.pages[0]
    assert window_text(cover) == [paper.world.account.name, "Hauptstr. 1", "80331 München"]
    text = cover.extract_text()
    # The return address, small, above the recipient's in the window's top zone.
    (sender,) = [
        p
        for p in placed_text(cover)
        if LAYOUT.window_top <= p.top_mm < LAYOUT.address_first_baseline - 4
        and LAYOUT.window_left <= p.left_mm <= LAYOUT.window_left + LAYOUT.window_width
    ]
    assert sender.text == f"{paper.world.office.name} · Bob-van-Benthem-Plein 1 · 2288 EE Rijswijk"
    assert delivery.id in text and delivery.dossier_number in text
    assert "Communication under Rule 71(3) EPC" in pdf.pages[1].extract_text()


async def test_the_letter_states_what_the_legal_clock_will_say_once_posted(
    services: Services, paper: PaperWorld
) -> None:
    delivery = await paper_delivery(services, paper)
    _, pdf = await letter_of(services, delivery.id)
    text = " ".join(p.text for p in placed_text(pdf.pages[0]))
    assert "Deemed delivered 10 days after the letter was posted (UTC)" in text
    async with services.db.write() as session:
        stored = await session.get(Delivery, delivery.id)
        assert stored is not None
        mark_paper_posted(stored, at=clock.now(), actor="test")
        sentence = explain(stored, at=clock.now()).sentence
        await session.rollback()
    # The rule's sentence once posted says the same, with the dates.
    assert "10 days after the letter was posted on" in sentence


async def test_the_qr_code_leads_to_the_retrieval_page_with_the_printed_code(
    services: Services, paper: PaperWorld
) -> None:
    delivery = await paper_delivery(services, paper)
    _, pdf = await letter_of(services, delivery.id)
    cover = pdf.pages[0]
    printed = CODE.search(cover.extract_text())
    assert printed is not None
    code = normalise_code(printed.group(1))
    assert code is not None
    url = f"http://mailbox.test/retrieve?code={code}"
    matrix = qr_matrix(cover)
    assert matrix == expected_matrix(url)
    assert decode(matrix) == url
    async with services.db.session() as session:
        stored = (
            await session.exec(
                select(RetrievalCode).where(RetrievalCode.delivery_id == delivery.id)
            )
        ).one()
    assert stored.code_hash == code_hash(code)  # only the hash is kept


async def test_our_disk_failing_leaves_the_job_waiting_and_the_delivery_queued(
    services: Services, paper: PaperWorld
) -> None:
    delivery = await deliver(services, paper.world)
    working = services.blobs
    services.blobs = LocalBlobStore(
        services.settings.effective_blob_dir,
        load_master_key(services.settings.effective_key_dir),
        os_write=failing_write(errno.ENOSPC),
    )
    try:
        await drain_until_idle(services, worker_id="test", lanes=1, max_rounds=3)
        async with services.db.session() as session:
            job = (
                await session.exec(
                    select(OutboxMessage)
                    .where(OutboxMessage.delivery_id == delivery.id)
                    .where(OutboxMessage.kind == OutboxKind.PAPER_JOB)
                )
            ).one()
            stored = await session.get(Delivery, delivery.id)
            letters = (await session.exec(select(PaperLetter))).all()
        assert job.status == "pending" and job.attempts == 0
        assert "letter not stored" in (job.last_error or "")
        assert stored is not None and stored.status == "paper_queued"
        assert letters == []
    finally:
        services.blobs = working
    # The disk is back: the job's next try makes the letter.
    clock.set_offset(timedelta(hours=1))
    await drain_until_idle(services, worker_id="test", lanes=1)
    letter, pdf = await letter_of(services, delivery.id)
    assert len(pdf.pages) == letter.pages


def test_a_letter_of_a_document_made_available_before_it_went_to_paper_says_its_rule() -> None:
    made_available = datetime(2026, 11, 26, 9, tzinfo=UTC)
    delivery = Delivery(
        document_id="doc_x",
        account_id="acc_x",
        office_id="off_x",
        dossier_number="EP1",
        submitted_at=made_available,
    )
    consign(delivery, at=made_available, deemed_days=10)
    relay_to_paper(delivery, at=made_available + timedelta(days=1), decision=after_alerts_failed())
    at = made_available + timedelta(days=2)
    assert letter_sentence(delivery, at=at) == explain(delivery, at=at).sentence
    assert "10 days after it was made available on 26 Nov 2026" in letter_sentence(delivery, at=at)
