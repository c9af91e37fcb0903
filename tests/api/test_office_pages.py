"""The office workspace pages through the real app: where office staff land, the list and its
filters, a dispatch's timeline and downloads (no content for the office), and the single
dispatch form with its refusals shown beside the fields."""

from __future__ import annotations

import json
import re

from httpx import AsyncClient
from sqlmodel import func, select

from mailbox.identity.admin import grant_role
from mailbox.models import Delivery, Role
from mailbox.operations.demo import demo_pdf
from mailbox.services import Services
from tests.factories import World, deliver, log_in_page, make_world
from tests.fixtures.hostile import javascript_open_action

WORKSPACE = "/office/dispatches"
FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')
KEY = re.compile(r'name="idempotency_key" value="([^"]*)"')


def row_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-id="([^"]+)"', html)


async def deliveries_of(services: Services, world: World) -> int:
    async with services.db.session() as session:
        query = select(func.count()).where(Delivery.office_id == world.office.id)
        return (await session.exec(query)).one()


async def test_office_staff_land_on_the_workspace_and_applicants_on_their_inbox(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    sent = await deliver(services, world, title="Notice of grant")
    for person in (world.dispatcher, world.auditor):
        await log_in_page(client, person)
        landing = await client.get("/inbox")
        assert landing.status_code == 302
        assert landing.headers["location"] == WORKSPACE
        page = await client.get(WORKSPACE)
        assert page.status_code == 200
        assert row_ids(page.text) == [sent.id]
        assert "Notice of grant" in page.text and world.account.name in page.text
        assert 'href="/office/dispatches"' in page.text  # the header's link
    assert "Dispatch a document" not in page.text  # auditors do not dispatch

    await log_in_page(client, world.applicant)
    assert (await client.get("/inbox")).status_code == 200
    assert (await client.get(WORKSPACE)).headers["location"] == "/inbox"


async def test_workspace_filters_and_pages_through_the_office_dispatches(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    sent = [
        await deliver(services, world, dossier_number=f"EP{n % 2}", title=f"Notice {n}")
        for n in range(27)
    ]
    await log_in_page(client, world.dispatcher)

    first = await client.get(WORKSPACE)
    assert row_ids(first.text) == [d.id for d in reversed(sent)][:25]
    older = re.search(r'href="([^"]+)" id="next-page"', first.text)
    assert older is not None
    second = await client.get(older.group(1).replace("&amp;", "&"))
    assert row_ids(second.text) == [sent[1].id, sent[0].id]

    dossier = await client.get(WORKSPACE, params={"dossier_number": "EP1", "status": "available"})
    assert row_ids(dossier.text) == [d.id for d in reversed(sent) if d.dossier_number == "EP1"]
    assert 'value="EP1"' in dossier.text  # the filter stays filled in
    none = await client.get(WORKSPACE, params={"on_paper": "true"})
    assert row_ids(none.text) == [] and "No dispatches." in none.text


async def test_bad_filter_is_shown_beside_its_field(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    await deliver(services, world)
    await log_in_page(client, world.dispatcher)

    page = await client.get(
        WORKSPACE,
        params={"dispatched_from": "2026-12-31", "dispatched_to": "2026-12-01", "kind": "R71"},
    )
    assert page.status_code == 422
    assert 'id="dispatched_to-error"' in page.text
    assert "must not be before dispatched_from" in page.text
    assert 'value="2026-12-31"' in page.text and 'value="R71"' in page.text
    assert row_ids(page.text) == []

    days = await client.get(WORKSPACE, params={"not_picked_up_after_days": "soon"})
    assert days.status_code == 422
    assert 'id="not_picked_up_after_days-error"' in days.text


async def test_dispatch_page_shows_timeline_legal_date_and_no_content_for_the_office(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    sent = await deliver(services, world)
    for person in (world.dispatcher, world.auditor):
        await log_in_page(client, person)
        page = await client.get(f"{WORKSPACE}/{sent.id}")
        assert page.status_code == 200
        events = re.findall(r"<td>(Submission\w+|Content\w+|\w+Delivery|Relay\w+)</td>", page.text)
        assert events[:2] == ["SubmissionAcceptance", "ContentConsignment"]
        assert "unless it is opened before" in page.text  # the legal clock's sentence
        assert "No: served electronically." in page.text
        assert 'id="download"' not in page.text
        assert f"/deliveries/{sent.id}/document" not in page.text
        assert 'id="download-proof"' in page.text

        evidence = await client.get(f"{WORKSPACE}/{sent.id}/evidence")
        assert evidence.status_code == 200
        assert "attachment" in evidence.headers["content-disposition"]
        records = json.loads(evidence.content)["evidence"]
        assert [r["type"] for r in records][:2] == events[:2]
        proof = await client.get(f"/deliveries/{sent.id}/proof")
        assert proof.status_code == 200 and proof.content.startswith(b"PK")

    # Another office's dispatcher is told it does not exist.
    other = await make_world(services)
    await log_in_page(client, other.dispatcher)
    assert (await client.get(f"{WORKSPACE}/{sent.id}")).status_code == 404
    assert (await client.get(f"{WORKSPACE}/{sent.id}/evidence")).status_code == 404


async def test_auditor_with_a_grant_on_the_account_gets_the_content_link(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    sent = await deliver(services, world)
    async with services.db.write() as session:
        await grant_role(
            session=session, user_id=world.auditor.id, role=Role.VIEWER, account_id=world.account.id
        )
    await log_in_page(client, world.auditor)
    page = await client.get(f"{WORKSPACE}/{sent.id}")
    assert f'href="/deliveries/{sent.id}/document"' in page.text


async def test_paper_dispatch_shows_its_paper_status(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services, edelivery=False)
    sent = await deliver(services, world)
    await log_in_page(client, world.dispatcher)

    page = await client.get(f"{WORKSPACE}/{sent.id}")
    assert "Handed to paper on" in page.text and "not posted yet" in page.text
    assert "RelayToNonERDS" in page.text
    listed = await client.get(WORKSPACE, params={"on_paper": "true"})
    assert row_ids(listed.text) == [sent.id]


async def _form(client: AsyncClient, **params: str) -> tuple[str, dict[str, str]]:
    page = await client.get(f"{WORKSPACE}/new", params=params)
    assert page.status_code == 200, page.text
    token, key = FORM_TOKEN.search(page.text), KEY.search(page.text)
    assert token and key
    return page.text, {"csrf_token": token.group(1), "idempotency_key": key.group(1)}


def _fields(world: World, **changes: str) -> dict[str, str]:
    return {
        "recipient_account_id": world.account.id,
        "kind_code": "R71",
        "dossier_number": "EP23123456.7",
        "title": "Communication under Rule 71(3) EPC",
        **changes,
    }


async def test_recipient_search_finds_accounts_by_name_email_or_id(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    await log_in_page(client, world.dispatcher)

    by_name, _ = await _form(client, recipient_query=world.account.name.split()[0].lower())
    assert f'value="{world.account.id}"' in by_name
    by_email, _ = await _form(client, recipient_query="APPLICANT@example.com")
    assert f'value="{world.account.id}"' in by_email
    by_id, _ = await _form(client, recipient_query=world.other_account.id)
    assert f'value="{world.other_account.id}"' in by_id and "served on paper" in by_id
    nothing, _ = await _form(client, recipient_query="no such applicant")
    assert "No account matches." in nothing
    short, _ = await _form(client, recipient_query="x")
    assert 'id="recipient_query-error"' in short

    await log_in_page(client, world.auditor)
    assert (await client.get(f"{WORKSPACE}/new")).status_code == 403


async def test_refused_dispatch_shows_the_problem_beside_the_field_and_keeps_the_values(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    await log_in_page(client, world.dispatcher)
    _, hidden = await _form(client)

    # What a browser sends when no file was chosen: a file part without a name or bytes.
    no_file = await client.post(
        WORKSPACE,
        data={**hidden, **_fields(world, title="Kept title")},
        files={"file": ("", b"", "application/octet-stream")},
    )
    assert no_file.status_code == 422
    assert 'id="file-error"' in no_file.text and "a file is required (a PDF, or a JSON or XML document)" in no_file.text
    assert 'value="Kept title"' in no_file.text and 'value="EP23123456.7"' in no_file.text
    assert f'value="{world.account.id}"' in no_file.text

    cases = [
        (b"not a pdf at all", {}, "file"),
        (javascript_open_action(), {}, "file"),
        (demo_pdf("Notice"), {"recipient_account_id": "acc_nobody"}, "recipient_account_id"),
        (demo_pdf("Notice"), {"kind_code": "R 71!"}, "kind_code"),
    ]
    for pdf, changes, field in cases:
        refused = await client.post(
            WORKSPACE,
            data={**hidden, **_fields(world, **changes)},
            files={"file": ("notice.pdf", pdf, "application/pdf")},
        )
        assert refused.status_code == 422, (field, refused.text)
        assert f'id="{field}-error"' in refused.text, field
        assert "is on record as evidence" in refused.text
    assert await deliveries_of(services, world) == 0


async def test_dispatch_form_serves_the_document_once_and_shows_its_timeline(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    await log_in_page(client, world.dispatcher)
    _, hidden = await _form(client)
    form = {**hidden, **_fields(world)}
    upload = {"file": ("notice.pdf", demo_pdf("Notice"), "application/pdf")}

    sent = await client.post(WORKSPACE, data=form, files=upload)
    again = await client.post(WORKSPACE, data=form, files=upload)  # a second click

    assert sent.status_code == 303
    assert again.headers["location"] == sent.headers["location"]
    assert await deliveries_of(services, world) == 1
    page = await client.get(sent.headers["location"])
    assert "Dispatched." in page.text and "ContentConsignment" in page.text


async def test_dispatch_form_without_the_form_token_is_refused(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    await log_in_page(client, world.dispatcher)
    refused = await client.post(
        WORKSPACE,
        data=_fields(world),
        files={"file": ("notice.pdf", demo_pdf("Notice"), "application/pdf")},
    )
    assert refused.status_code == 403
    assert await deliveries_of(services, world) == 0


async def test_dispatcher_of_several_offices_chooses_the_office_in_the_form(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    other = await make_world(services)
    async with services.db.write() as session:
        await grant_role(
            session=session,
            user_id=world.dispatcher.id,
            role=Role.DISPATCHER,
            office_id=other.office.id,
        )
    await log_in_page(client, world.dispatcher)
    page, hidden = await _form(client)
    assert world.office.name in page and other.office.name in page
    assert '<select id="office_id" name="office_id">' in page

    sent = await client.post(
        WORKSPACE,
        data={**hidden, **_fields(world), "office_id": other.office.id},
        files={"file": ("notice.pdf", demo_pdf("Notice"), "application/pdf")},
    )
    assert sent.status_code == 303
    assert await deliveries_of(services, other) == 1
    assert await deliveries_of(services, world) == 0
