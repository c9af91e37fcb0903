"""Who gets paper, through the API: each rule of mailbox.deliveries.paper_rule sends a
dispatch on paper with its RelayToNonERDS record (reason code and sentence); a recipient
without an account is reached at the postal address the office gives, checked field by
field; an office's dispatchers mark a kind paper-only; and a paper delivery never offers a
download that cannot work."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from typing import Any

from httpx import AsyncClient
from markupsafe import escape
from pypdf import PdfReader

from mailbox.clock import now
from mailbox.deliveries import rules
from mailbox.evidence import log as evidence
from mailbox.identity.admin import add_verified_address, refresh_edelivery
from mailbox.models import Account, Delivery, Role
from mailbox.notifications.settings import give_consent
from mailbox.operations.demo import demo_pdf
from mailbox.services import Services
from tests.factories import (
    add_member,
    consent_without_address,
    log_in_page,
    make_world,
    post_dispatch,
    token_for,
)
from tests.fixtures.db import both_backends

ADDRESS = {
    "name": "Erika Mustermann",
    "lines": ["Heidestrasse 17", "Hinterhaus"],
    "postal_code": "51147",
    "city": "Köln",
    "country": "DE",
}


async def dispatch_by_post(client: AsyncClient, headers: dict[str, str], address: Any, **data: str):
    body = {
        "recipient_postal_address": address if isinstance(address, str) else json.dumps(address),
        "kind_code": "R71",
        "dossier_number": "EP23123456.7",
        "title": "Communication under Rule 71(3) EPC",
        **data,
    }
    return await client.post(
        "/api/v1/dispatches",
        headers=headers,
        files={"file": ("notice.pdf", demo_pdf("Notice"), "application/pdf")},
        data=body,
    )


def shown(text: str) -> str:
    """``text`` as a page shows it (HTML-escaped)."""
    return str(escape(text))


def relay_of(body: dict[str, Any]) -> dict[str, Any]:
    [relay] = [e for e in body["timeline"] if e["type"] == "RelayToNonERDS"]
    return relay


@both_backends
async def test_dispatch_to_a_postal_address_goes_on_paper_to_one_addressee_per_office(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    other = await make_world(services)
    headers = await token_for(client, world.dispatcher)

    first = await dispatch_by_post(client, headers, ADDRESS)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["status"] == "paper_queued"
    assert body["paper_reason_code"] == "no_account"
    assert body["paper_reason"].startswith("Sent by post: the recipient has no account")
    assert body["document_url"] is None
    relay = relay_of(body)
    assert relay["details"] == {"reason_code": "no_account", "reason": body["paper_reason"]}
    assert relay["label"] == "Handed to the paper process"
    assert relay["summary"] == body["paper_reason"]

    # The same address, spelled with other spaces and case, reaches the same addressee.
    again = {**ADDRESS, "name": "  erika   MUSTERMANN ", "city": "KÖLN"}
    second = await dispatch_by_post(client, headers, again, title="Second notice")
    assert second.status_code == 201, second.text
    assert second.json()["account_id"] == body["account_id"]
    # Another office giving the same address gets an addressee of its own.
    theirs = await dispatch_by_post(client, await token_for(client, other.dispatcher), ADDRESS)
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["account_id"] != body["account_id"]

    async with services.db.session() as session:
        addressee = await session.get(Account, body["account_id"])
    assert addressee is not None
    assert addressee.postal_only_office_id == world.office.id
    assert addressee.postal_address == (
        "Erika Mustermann\nHeidestrasse 17\nHinterhaus\n51147 Köln\nGERMANY"
    )
    assert addressee.postal_address_fields == ADDRESS
    assert not addressee.edelivery_active


async def test_bad_postal_address_is_refused_naming_each_bad_field(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    bad = {
        "name": "",
        "lines": ["Heidestrasse 17", 5, "x" * 101],
        "postal_code": "51147!",
        "city": "",
        "country": "XX",
        "floor": "3",
    }

    response = await dispatch_by_post(client, headers, bad)

    assert response.status_code == 422, response.text
    problem = response.json()
    fields = {e["field"]: e["message"] for e in problem["errors"]}
    assert set(fields) == {
        "recipient_postal_address.floor",
        "recipient_postal_address.name",
        "recipient_postal_address.lines[1]",
        "recipient_postal_address.lines[2]",
        "recipient_postal_address.postal_code",
        "recipient_postal_address.city",
        "recipient_postal_address.country",
    }
    assert fields["recipient_postal_address.country"].startswith("must be an ISO 3166-1")
    assert problem["evidence_id"]  # the refusal is on record

    no_lines = await dispatch_by_post(client, headers, {**ADDRESS, "lines": []})
    assert [e["field"] for e in no_lines.json()["errors"]] == ["recipient_postal_address.lines"]
    not_json = await dispatch_by_post(client, headers, "Heidestrasse 17, Köln")
    assert not_json.status_code == 422
    assert [e["field"] for e in not_json.json()["errors"]] == ["recipient_postal_address"]


async def test_account_and_postal_address_together_or_neither_are_refused(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)

    both = await dispatch_by_post(client, headers, ADDRESS, recipient_account_id=world.account.id)
    neither = await post_dispatch(client, headers, "")

    assert both.status_code == 422, both.text
    assert {e["field"] for e in both.json()["errors"]} == {
        "recipient_account_id",
        "recipient_postal_address",
    }
    assert "not both" in both.json()["errors"][0]["message"]
    assert neither.status_code == 422
    assert [e["field"] for e in neither.json()["errors"]] == ["recipient_account_id"]


async def test_no_consent_then_no_verified_address_each_send_paper_with_their_reason(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services, edelivery=False)
    headers = await token_for(client, world.dispatcher)

    no_consent = (await post_dispatch(client, headers, world.account.id)).json()
    await consent_without_address(services, world.account)
    no_address = (await post_dispatch(client, headers, world.account.id)).json()

    assert (no_consent["status"], no_consent["paper_reason_code"]) == (
        "paper_queued",
        "no_consent",
    )
    assert relay_of(no_consent)["details"]["reason"] == (
        "Sent by post: the recipient has not consented to electronic delivery."
    )
    assert no_address["paper_reason_code"] == "no_verified_address"
    assert relay_of(no_address)["details"]["reason_code"] == "no_verified_address"


async def test_consent_after_a_letter_was_queued_keeps_it_on_paper_and_later_ones_go_electronic(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services, edelivery=False)
    headers = await token_for(client, world.dispatcher)
    queued = (await post_dispatch(client, headers, world.account.id)).json()
    assert queued["status"] == "paper_queued"

    async with services.db.write() as session:
        account = await session.get(Account, world.account.id)
        assert account is not None
        await add_verified_address(session=session, account=account, email="late@example.com")
        await give_consent(session=session, signer=services.evidence, account=account, actor="u")
        assert await refresh_edelivery(session=session, account=account)
    later = (await post_dispatch(client, headers, world.account.id, title="Later")).json()

    still = await client.get(f"/api/v1/dispatches/{queued['id']}", headers=headers)
    assert still.json()["status"] == "paper_queued"
    assert still.json()["paper_reason_code"] == "no_consent"
    assert later["status"] == "available" and later["paper_reason_code"] is None


async def test_office_dispatchers_mark_a_kind_paper_only_and_back(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    path = f"/api/v1/offices/{world.office.code}/paper-only-kinds/R71"

    marked = await client.put(path, headers=headers)
    paper = (await post_dispatch(client, headers, world.account.id)).json()
    cleared = await client.delete(path, headers=headers)
    electronic = (await post_dispatch(client, headers, world.account.id, title="Again")).json()

    assert marked.status_code == 200, marked.text
    assert marked.json() == {
        "office_id": world.office.id,
        "office_code": world.office.code,
        "paper_only_kinds": ["R71"],
    }
    assert paper["paper_reason_code"] == "paper_only_kind"
    assert paper["paper_reason"] == (
        "Sent by post: the office serves documents of kind R71 on paper only."
    )
    assert cleared.status_code == 200 and cleared.json()["paper_only_kinds"] == []
    assert electronic["status"] == "available"


async def test_paper_only_kind_refuses_bad_kind_unknown_office_and_auditors(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    other = await make_world(services)
    headers = await token_for(client, world.dispatcher)

    bad_kind = await client.put(
        f"/api/v1/offices/{world.office.code}/paper-only-kinds/R 71!", headers=headers
    )
    unknown = await client.put("/api/v1/offices/NOPE/paper-only-kinds/R71", headers=headers)
    foreign = await client.put(
        f"/api/v1/offices/{other.office.code}/paper-only-kinds/R71", headers=headers
    )
    auditor = await client.put(
        f"/api/v1/offices/{world.office.code}/paper-only-kinds/R71",
        headers=await token_for(client, world.auditor),
    )

    assert bad_kind.status_code == 422, bad_kind.text
    assert bad_kind.headers["content-type"].startswith("application/problem+json")
    assert unknown.status_code == 404 and unknown.json()["detail"] == "No office NOPE"
    assert foreign.status_code == 404
    assert auditor.status_code == 403


async def _paper_after_alert(services: Services, delivery_id: str) -> None:
    """The delivery's alert failed for good: it goes from the mailbox to paper (the rule the
    drain applies, without an SMTP server)."""
    async with services.db.write() as session:
        delivery = await session.get(Delivery, delivery_id)
        account = await session.get(Account, delivery.account_id)
        drafts = rules.on_notification_failure(
            delivery, account, at=now(), reason="550 no such user", details={}
        )
        for draft in drafts:
            await evidence.append(session, services.evidence, draft, delivery_id=delivery.id)
        session.add(delivery)
        session.add(account)


async def test_a_paper_delivery_offers_no_download_in_the_api_or_the_pages(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    electronic = (await post_dispatch(client, headers, world.account.id, title="Kept")).json()
    went = (await post_dispatch(client, headers, world.account.id, title="Bounced")).json()
    await _paper_after_alert(services, went["id"])
    owner = await token_for(client, world.applicant)

    api_paper = (await client.get(f"/api/v1/deliveries/{went['id']}", headers=owner)).json()
    api_electronic = (
        await client.get(f"/api/v1/deliveries/{electronic['id']}", headers=owner)
    ).json()
    assert api_paper["status"] == "paper_queued" and api_paper["document_url"] is None
    assert api_paper["paper_status"] == "On paper: the letter is being prepared for posting."
    assert api_paper["paper_reason_code"] == "alerts_failed"
    assert api_electronic["document_url"] == f"/api/v1/deliveries/{electronic['id']}/document"
    office_view = await client.get(f"/api/v1/deliveries/{electronic['id']}", headers=headers)
    assert office_view.json()["document_url"] is None  # offices never pick up

    await log_in_page(client, world.applicant)
    page = (await client.get(f"/deliveries/{went['id']}")).text
    assert 'id="download"' not in page
    assert api_paper["paper_status"] in page and shown(api_paper["paper_reason"]) in page
    assert "Handed to the paper process" in page
    assert 'id="download"' in (await client.get(f"/deliveries/{electronic['id']}")).text
    inbox = (await client.get("/inbox")).text
    assert shown(api_paper["paper_reason"]) in inbox


async def test_a_delivery_on_paper_from_the_start_shows_in_the_inbox_apart(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services, edelivery=False)
    headers = await token_for(client, world.dispatcher)
    queued = (await post_dispatch(client, headers, world.account.id)).json()

    await log_in_page(client, world.applicant)
    inbox = (await client.get("/inbox")).text
    page = (await client.get(f"/deliveries/{queued['id']}")).text

    assert 'id="on-paper"' in inbox and shown(queued["paper_reason"]) in inbox
    assert "No documents." not in inbox
    assert 'id="download"' not in page and shown(queued["paper_reason"]) in page


async def test_the_paper_path_shows_in_the_timeline_and_the_proof_bundle(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services, edelivery=False)
    headers = await token_for(client, world.dispatcher)
    queued = (await post_dispatch(client, headers, world.account.id)).json()
    async with services.db.write() as session:
        delivery = await session.get(Delivery, queued["id"])
        for draft in (
            rules.mark_paper_posted(delivery, at=now(), actor="user:printer"),
            rules.mark_paper_returned(delivery, at=now(), actor="user:printer", reason="moved"),
        ):
            await evidence.append(session, services.evidence, draft, delivery_id=delivery.id)
        session.add(delivery)
    viewer = await add_member(services, world.account, Role.VIEWER)
    owner = await token_for(client, viewer)

    api = (await client.get(f"/api/v1/deliveries/{queued['id']}", headers=owner)).json()
    labels = [(e["type"], e["label"], e["summary"]) for e in api["timeline"]][-3:]
    assert labels == [
        ("RelayToNonERDS", "Handed to the paper process", queued["paper_reason"]),
        ("PaperPosted", "Letter posted", None),
        ("PaperReturned", "Letter returned undeliverable", "Returned: moved"),
    ]
    assert api["paper_status"] == "On paper: the letter came back undeliverable."

    await log_in_page(client, viewer)
    page = (await client.get(f"/deliveries/{queued['id']}")).text
    for words in ("Letter posted", "Letter returned undeliverable", "Returned: moved"):
        assert words in page

    bundle = await client.get(f"/api/v1/deliveries/{queued['id']}/proof", headers=owner)
    assert bundle.status_code == 200, bundle.text
    files = zipfile.ZipFile(io.BytesIO(bundle.content))
    body = json.loads(files.read("evidence.json"))
    assert body["delivery"]["paper_reason_code"] == "no_consent"
    assert body["delivery"]["paper_reason"] == queued["paper_reason"]
    tail = [(r["type"], r["label"], r["summary"]) for r in body["records"]][-3:]
    assert tail == labels
    receipt = " ".join(
        (p.extract_text() or "") for p in PdfReader(io.BytesIO(files.read("receipt.pdf"))).pages
    )
    flat = " ".join(receipt.split())
    assert " ".join(queued["paper_reason"].split()) in flat
    assert "Letter returned undeliverable (PaperReturned)" in flat


@both_backends
async def test_concurrent_dispatches_to_one_new_address_reach_one_addressee(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)

    answers = await asyncio.gather(
        *(dispatch_by_post(client, headers, ADDRESS, title=f"Notice {n}") for n in range(4))
    )

    assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
    assert len({a.json()["account_id"] for a in answers}) == 1
