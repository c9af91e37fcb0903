"""The electronic copy after paper: a signed-in person enters a letter's retrieval code, the
delivery is linked to an account they own (or a new one), and its people open the copy; the
first opening is the ContentHandover, and the paper service's legal date does not move.
Codes work once; wrong ones are counted and throttled per person and per address (429)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from httpx import AsyncClient
from sqlmodel import select

from mailbox import clock
from mailbox.config import Settings
from mailbox.deliveries.inbox import timeline
from mailbox.deliveries.legal_clock import explain
from mailbox.models import Delivery, Grant
from mailbox.paper.codes import ALPHABET, format_code, new_code, normalise_code
from mailbox.services import Services
from tests.factories import FORM_TOKEN_FIELD, log_in_page, token_for
from tests.fixtures.db import both_backends
from tests.paper.conftest import PaperWorld, letter_of, paper_delivery
from tests.paper.test_letters import CODE


async def _printed_code(services: Services, delivery_id: str) -> str:
    _, pdf = await letter_of(services, delivery_id)
    found = CODE.search(pdf.pages[0].extract_text())
    assert found is not None
    return found.group(1)


def test_a_code_carries_80_random_bits_and_catches_a_mistyped_character() -> None:
    code = new_code()
    assert len(code) == 17 and len(ALPHABET) ** 16 == 2**80
    printed = format_code(code)
    assert normalise_code(printed.lower().replace("0", "o")) == code
    for n in range(16):
        wrong = ALPHABET[(ALPHABET.index(code[n]) + 1) % 32]
        assert normalise_code(code[:n] + wrong + code[n + 1 :]) is None
    assert normalise_code(code[1] + code[0] + code[2:]) in (None, code)  # a swap is caught
    assert normalise_code("short") is None


@both_backends
async def test_a_code_links_the_delivery_once_and_the_copy_keeps_the_legal_date(
    client: AsyncClient, services: Services, paper: PaperWorld
) -> None:
    delivery = await paper_delivery(services, paper)
    printer = await token_for(client, paper.printer)
    await client.post(f"/api/v1/deliveries/{delivery.id}/paper/posted", headers=printer, json={})
    async with services.db.session() as session:
        before = explain(await session.get(Delivery, delivery.id), at=clock.now())
    code = await _printed_code(services, delivery.id)
    owner = await token_for(client, paper.world.applicant)
    copy_url = f"/api/v1/deliveries/{delivery.id}/paper/copy"
    not_yet = await client.get(copy_url, headers=owner)
    assert not_yet.status_code == 403  # the code first
    redeemed = await client.post("/api/v1/retrievals", headers=owner, json={"code": code})
    assert redeemed.status_code == 201, redeemed.text
    assert redeemed.json() == {
        "delivery_id": delivery.id,
        "account_id": paper.world.account.id,
        "document_url": copy_url,
    }
    twice = await client.post("/api/v1/retrievals", headers=owner, json={"code": code})
    assert twice.status_code == 409
    assert "used already" in twice.json()["detail"]
    first = await client.get(copy_url, headers=owner)
    assert first.status_code == 200 and first.content.startswith(b"%PDF")
    assert first.headers["x-evidence-type"] == "ContentHandover"
    later = await client.get(copy_url, headers=owner)
    assert later.headers["x-evidence-type"] == "ContentAccess"
    stranger = await client.get(copy_url, headers=await token_for(client, paper.world.stranger))
    assert stranger.status_code == 404
    async with services.db.session() as session:
        after_delivery = await session.get(Delivery, delivery.id)
        records = await timeline(session=session, delivery_id=delivery.id)
    assert after_delivery is not None
    assert after_delivery.status == "paper_posted" and after_delivery.picked_up_at is None
    after = explain(after_delivery, at=clock.now())
    # The legal clock decides: the paper service's date, not the opening's.
    assert (after.delivered_on, after.basis, after.sentence) == (
        before.delivered_on,
        "posting",
        before.sentence,
    )
    handover = [r for r in records if r.type == "ContentHandover"]
    assert len(handover) == 1 and handover[0].details["via"] == "retrieval code"
    assert handover[0].details["legal_date"]["basis"] == "posting"


async def test_a_person_without_an_account_links_the_letter_to_a_new_one_on_the_page(
    client: AsyncClient, services: Services, paper: PaperWorld
) -> None:
    delivery = await paper_delivery(services, paper)
    code = await _printed_code(services, delivery.id)
    await log_in_page(client, paper.printer)  # owns no account
    page = await client.get(f"/retrieve?code={normalise_code(code)}")
    assert normalise_code(code) in page.text
    token = FORM_TOKEN_FIELD.search(page.text).group(1)
    no_name = await client.post(
        "/retrieve", data={"code": code, "account_id": "new", "csrf_token": token}
    )
    assert no_name.status_code == 422 and "Name the new account" in no_name.text
    done = await client.post(
        "/retrieve",
        data={
            "code": code,
            "account_id": "new",
            "account_name": "Printer Holdings",
            "csrf_token": token,
        },
    )
    assert done.status_code == 200, done.text
    assert f"/deliveries/{delivery.id}/paper-copy" in done.text
    async with services.db.session() as session:
        grant = (await session.exec(select(Grant).where(Grant.user_id == paper.printer.id))).all()
    assert {g.role for g in grant} == {"printer", "owner"}
    opened = await client.get(f"/deliveries/{delivery.id}/paper-copy")
    assert opened.status_code == 200 and opened.headers["x-evidence-type"] == "ContentHandover"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"retrieval_failures_per_user": 3, "retrieval_failures_per_address": 5}
    )


async def test_wrong_codes_are_refused_then_throttled_per_person_and_per_address(
    client: AsyncClient, services: Services, paper: PaperWorld
) -> None:
    delivery = await paper_delivery(services, paper)
    code = await _printed_code(services, delivery.id)
    owner = await token_for(client, paper.world.applicant)
    mistyped = await client.post("/api/v1/retrievals", headers=owner, json={"code": "ABCD-EFGH"})
    assert mistyped.status_code == 422
    assert [e["field"] for e in mistyped.json()["errors"]] == ["code"]
    unknown = await client.post("/api/v1/retrievals", headers=owner, json={"code": new_code()})
    assert unknown.status_code == 422 and "No letter carries" in unknown.json()["detail"]
    await client.post("/api/v1/retrievals", headers=owner, json={"code": new_code()})
    # Three wrong codes: even the right one is refused now, without being looked at.
    throttled = await client.post("/api/v1/retrievals", headers=owner, json={"code": code})
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0
    # Another person from the same address has two tries left before the address's limit.
    viewer = await token_for(client, paper.world.stranger)
    for _ in range(2):
        wrong = await client.post("/api/v1/retrievals", headers=viewer, json={"code": new_code()})
        assert wrong.status_code == 422
    by_address = await client.post("/api/v1/retrievals", headers=viewer, json={"code": code})
    assert by_address.status_code == 429
    # After the window, the right code works.
    clock.set_offset(timedelta(hours=2))
    owner = await token_for(client, paper.world.applicant)
    works = await client.post("/api/v1/retrievals", headers=owner, json={"code": code})
    assert works.status_code == 201, works.text


async def test_a_machine_client_or_someone_elses_account_cannot_redeem(
    client: AsyncClient, services: Services, paper: PaperWorld
) -> None:
    delivery = await paper_delivery(services, paper)
    code = await _printed_code(services, delivery.id)
    stranger = await token_for(client, paper.world.stranger)
    other = await client.post(
        "/api/v1/retrievals",
        headers=stranger,
        json={"code": code, "account_id": paper.world.account.id},
    )
    assert other.status_code == 403
    unknown_field = await client.post(
        "/api/v1/retrievals", headers=stranger, json={"code": code, "extra": 1}
    )
    assert unknown_field.status_code == 422
    # The code was not spent by the refusals.
    owner = await token_for(client, paper.world.applicant)
    assert (
        await client.post("/api/v1/retrievals", headers=owner, json={"code": code})
    ).status_code == 201
