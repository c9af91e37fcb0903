"""A hub's coverage: the hub uploads what it expects from the offices that owe it items,
offices send national-phase entry notices into its mailbox before, after or never by the due
date, and the report classes each item (on time, late, missing, pending) by the due day in the
hub's time zone, counts per sending office, lists what came unexpected, and reminds the
offices that are behind, once a day, by email through the outbox."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from httpx import AsyncClient
from sqlmodel import func, select

from mailbox import clock
from mailbox.config import Settings
from mailbox.coverage.rule import day_start, due_end, local_day
from mailbox.deliveries.clock_rules import set_office_time_zone
from mailbox.deliveries.dispatch import DispatchRequest, dispatch
from mailbox.identity.admin import create_office, open_office_mailbox
from mailbox.models import Account, ExpectedItem, OutboxMessage
from mailbox.notifications.outbox import drain_until_idle
from mailbox.services import Services
from tests.factories import World, log_in_page, make_world, token_for
from tests.fixtures.cli import run_cli
from tests.fixtures.db import both_backends
from tests.fixtures.smtp import SmtpServer

ZONE = "Asia/Tokyo"  # UTC+9: a day there ends at 15:00 UTC
NOTICE = "national-phase-entry"
HEADER = "sender,kind,international_application_number,due_on"


@pytest.fixture
def settings(settings: Settings, smtp_server: SmtpServer) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": smtp_server.host,
            "smtp_port": smtp_server.port,
            "smtp_timeout": 5.0,
            "smtp_sender": "Secure Mailbox <no-reply@mailbox.test>",
            "outbox_max_attempts": 3,
        }
    )


# Per sending office: (due in days from the first day, arrival), arrival being None (never),
# ("on", h): h hours into the due day (hub's zone), or ("late", h): h hours after its end.
PLAN: dict[str, list[tuple[int, tuple | None]]] = {
    # A mailbox with a verified address, behind: 4 on time, 3 late, 2 missing, 1 pending.
    "SA": [
        (1, ("on", 2)),
        (2, ("on", 10)),
        (3, ("on", 23.5)),  # 23:30 in Tokyo on the due day: on time
        (4, ("late", 0.5)),  # 00:30 the next day in Tokyo, still the due day in UTC: late
        (5, ("on", -30)),  # a day and more early
        (6, ("late", 53)),
        (7, ("late", 121)),
        (8, None),
        (9, None),
        (25, None),
    ],
    # A mailbox with a verified address, all in order: 6 on time, 4 pending.
    "SB": [
        (2, ("on", 1)),
        (4, ("on", 3)),
        (6, ("on", 5)),
        (8, ("on", 7)),
        (10, ("on", 9)),
        (12, ("on", 11)),
        (21, None),
        (22, None),
        (23, None),
        (24, ("on", -400)),  # already here, though not yet due: on time
    ],
    # No mailbox: 2 on time, 1 late, 5 missing, 2 pending.
    "SC": [
        (1, ("on", 4)),
        (3, ("on", 8)),
        (5, ("late", 26)),
        (7, None),
        (9, None),
        (11, None),
        (13, None),
        (15, None),
        (20, None),  # due the day the report is made: not over yet, pending
        (22, None),
    ],
}
EXPECTED_CLASSES = {
    "SA": {"on_time": 4, "late": 3, "missing": 2, "pending": 1},
    "SB": {"on_time": 7, "late": 0, "missing": 0, "pending": 3},
    "SC": {"on_time": 2, "late": 1, "missing": 5, "pending": 2},
}
REPORT_DAY = 20  # the report is made at noon (hub's zone) of this day


@dataclass
class Hub:
    world: World  # the hub office with its dispatcher and auditor
    mailbox: Account
    first_day: date  # day 0 of the plan, in the hub's zone
    items: dict[str, tuple[str, date, str]]  # number -> (sender, due day, expected class)
    report_at: datetime
    unexpected_number: str

    @property
    def code(self) -> str:
        return self.world.office.code

    def period(self) -> dict[str, str]:
        return {
            "from": self.first_day.isoformat(),
            "to": (self.first_day + timedelta(days=30)).isoformat(),
        }


def _notice(number: str, designated: str) -> bytes:
    return json.dumps(
        {
            "notice": "national-phase-entry/1",
            "international_application_number": number,
            "designated_office": designated,
            "national_application_number": "2026-501234",
            "entry_date": "2026-11-20",
            "status": "entered",
        }
    ).encode()


async def _send_notice(services: Services, office_id: str, mailbox: Account, number: str) -> str:
    sent = await dispatch(
        services,
        DispatchRequest(
            office_id=office_id,
            recipient_account_id=mailbox.id,
            kind_code=NOTICE,
            dossier_number=number,
            title="National-phase entry notice",
            filename="notice.json",
            pdf=_notice(number, "JP"),
            media_type="application/json",
        ),
        actor="system:test",
    )
    return sent.delivery.id


async def make_hub(services: Services) -> Hub:
    """A hub (Tokyo time) with a mailbox, three sending offices (SA and SB with mailboxes and
    verified addresses, SC without), and notices sent as :data:`PLAN` says, the clock moving
    forward from now; the clock then stops at noon of :data:`REPORT_DAY`."""
    world = await make_world(services)
    async with services.db.write() as session:
        await set_office_time_zone(session=session, office=world.office.id, zone=ZONE)
        mailbox, _ = await open_office_mailbox(
            session=session, office=world.office.id, email="intake@hub.example"
        )
        offices = {}
        for code in PLAN:
            offices[code] = await create_office(session=session, code=code, name=f"Office {code}")
        for code in ("SA", "SB"):
            await open_office_mailbox(session=session, office=code, email=f"{code.lower()}@x.test")
    start = clock.now() + timedelta(hours=1)
    first_day = local_day(start, ZONE) + timedelta(days=2)
    items: dict[str, tuple[str, date, str]] = {}
    arrivals: list[tuple[datetime, str, str]] = []
    serial = 0
    for code, plan in PLAN.items():
        for offset, arrival in plan:
            serial += 1
            number = f"PCT/EP2026/{serial:06d}"
            due = first_day + timedelta(days=offset)
            items[number] = (code, due, "")
            if arrival is None:
                continue
            if arrival[0] == "on":
                at = day_start(due, ZONE) + timedelta(hours=arrival[1])
            else:
                at = due_end(due, ZONE) + timedelta(hours=arrival[1])
            arrivals.append((at, code, number))
    report_at = day_start(first_day + timedelta(days=REPORT_DAY), ZONE) + timedelta(hours=12)
    unexpected = "PCT/EP2026/999999"
    arrivals.append((start + timedelta(days=3, minutes=7), "SB", unexpected))
    for at, code, number in sorted(arrivals):
        assert start <= at < report_at
        clock.freeze(at)
        await _send_notice(services, offices[code].id, mailbox, number)
    clock.freeze(report_at)
    return Hub(world, mailbox, first_day, items, report_at, unexpected)


def expected_list(hub: Hub) -> str:
    rows = [HEADER]
    for number, (code, due, _) in hub.items.items():
        rows.append(f"{code},{NOTICE},{number},{due.isoformat()}")
    return "\r\n".join(rows) + "\r\n"


async def upload(client: AsyncClient, hub: Hub, headers: dict[str, str], body: str, kind: str):
    return await client.put(
        f"/api/v1/offices/{hub.code}/expected-items",
        headers={**headers, "Content-Type": kind},
        content=body.encode(),
    )


async def hub_with_list(client: AsyncClient, services: Services) -> tuple[Hub, dict[str, str]]:
    hub = await make_hub(services)
    dispatcher = await token_for(client, hub.world.dispatcher)
    uploaded = await upload(client, hub, dispatcher, expected_list(hub), "text/csv")
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json() == {"hub": hub.code, "added": 30, "updated": 0, "unchanged": 0}
    return hub, dispatcher


@both_backends
async def test_each_item_is_classed_by_its_due_day_in_the_hubs_zone_and_counted(
    client: AsyncClient, services: Services
) -> None:
    hub, dispatcher = await hub_with_list(client, services)
    auditor = await token_for(client, hub.world.auditor)

    answer = await client.get(
        f"/api/v1/offices/{hub.code}/coverage", headers=auditor, params=hub.period()
    )

    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["hub"], report["from"], report["to"]) == (
        hub.code,
        hub.period()["from"],
        hub.period()["to"],
    )
    assert report["senders"] == [
        {"sender": code, "expected": 10, **counts} for code, counts in EXPECTED_CLASSES.items()
    ]
    by_number = {item["international_application_number"]: item for item in report["items"]}
    assert set(by_number) == set(hub.items)
    plan = {
        f"PCT/EP2026/{n:06d}": (code, arrival)
        for n, (code, arrival) in enumerate(
            [(code, arrival) for code, rows in PLAN.items() for _, arrival in rows], start=1
        )
    }
    for number, item in by_number.items():
        code, arrival = plan[number]
        due = hub.items[number][1]
        assert item["sender"] == code and item["due_on"] == due.isoformat()
        if arrival is None:
            expected = "missing" if due < hub.first_day + timedelta(days=REPORT_DAY) else "pending"
            assert item["delivery_id"] is None and item["received_at"] is None
        else:
            expected = "on_time" if arrival[0] == "on" else "late"
            assert item["delivery_id"] and item["received_at"]
        assert item["status"] == expected, (number, item)
    # The edges of the due day are the hub's: 23:30 in Tokyo is on time, 00:30 the next day
    # is late although it is still the due day in UTC.
    on_edge, after_edge = by_number["PCT/EP2026/000003"], by_number["PCT/EP2026/000004"]
    assert on_edge["status"] == "on_time" and after_edge["status"] == "late"
    assert after_edge["received_at"].startswith(after_edge["due_on"])  # same UTC day
    assert [u["international_application_number"] for u in report["unexpected"]] == [
        hub.unexpected_number
    ]
    assert report["unexpected"][0]["sender"] == "SB"

    one = await client.get(
        f"/api/v1/offices/{hub.code}/coverage",
        headers=dispatcher,
        params={**hub.period(), "sender": "sc"},
    )
    assert one.json()["senders"] == [{"sender": "SC", "expected": 10, **EXPECTED_CLASSES["SC"]}]

    as_csv = await client.get(
        f"/api/v1/offices/{hub.code}/coverage",
        headers={**auditor, "Accept": "text/csv"},
        params=hub.period(),
    )
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert rows == [
        {key: "" if value is None else value for key, value in item.items()}
        for item in report["items"]
    ]
    by_param = await client.get(
        f"/api/v1/offices/{hub.code}/coverage",
        headers=auditor,
        params={**hub.period(), "format": "csv"},
    )
    assert by_param.text == as_csv.text


async def test_a_bad_list_is_refused_whole_naming_each_line_and_a_reupload_updates(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    dispatcher = await token_for(client, world.dispatcher)
    path = f"/api/v1/offices/{world.office.code}/expected-items"
    bad = "\r\n".join(
        [
            HEADER,
            "EP,national-phase-entry,PCT/EP2026/000001,2026-12-01",  # good
            "E,national-phase-entry,PCT/EP2026/000002,2026-12-01",
            "EP,national phase,PCT/EP2026/000003,2026-12-01",
            "EP,search-copy,PCT/EP26/3,2026-12-01",
            "EP,search-copy,PCT/EP2026/000004,2026-02-30",
            "EP,search-copy,PCT/EP2026/000005,1.12.2026",
            "EP,national-phase-entry,PCT/EP2026/000001,2026-12-09",  # line 2 again
            "EP,search-copy,PCT/EP2026/000006",
        ]
    )
    refused = await client.put(
        path, headers={**dispatcher, "Content-Type": "text/csv"}, content=bad.encode()
    )

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    fields = [error["field"] for error in refused.json()["errors"]]
    assert fields == [
        "line 3: sender",
        "line 4: kind",
        "line 5: international_application_number",
        "line 6: due_on",
        "line 7: due_on",
        "line 8: international_application_number",
        "line 9",
    ]
    async with services.db.session() as session:
        assert (await session.exec(select(func.count()).select_from(ExpectedItem))).one() == 0

    jsonl = "\n".join(
        json.dumps(
            {
                "sender": "EP",
                "kind": kind,
                "international_application_number": number,
                "due_on": "2026-12-01",
            }
        )
        for kind, number in (
            ("national-phase-entry", "PCT/EP2026/000001"),
            ("search-copy", "PCT/EP2026/000001"),
        )
    )
    first = await client.put(
        path, headers={**dispatcher, "Content-Type": "application/x-ndjson"}, content=jsonl
    )
    assert first.json() == {"hub": world.office.code, "added": 2, "updated": 0, "unchanged": 0}
    again = "\r\n".join(
        [
            HEADER,
            "EP,national-phase-entry,PCT/EP2026/000001,2026-12-15",
            "EP,search-copy,PCT/EP2026/000001,2026-12-01",
            "JP,search-copy,PCT/EP2026/000001,2026-12-01",
        ]
    )
    second = await client.put(
        path, headers={**dispatcher, "Content-Type": "text/csv"}, content=again.encode()
    )
    assert second.json() == {"hub": world.office.code, "added": 1, "updated": 1, "unchanged": 1}
    async with services.db.session() as session:
        dues = {
            (item.sender_code, item.kind): item.due_on
            for item in (await session.exec(select(ExpectedItem))).all()
        }
    assert dues[("EP", "national-phase-entry")] == date(2026, 12, 15)

    untyped = await client.put(
        path, headers={**dispatcher, "Content-Type": "text/plain"}, content=again.encode()
    )
    assert untyped.status_code == 422
    assert [e["field"] for e in untyped.json()["errors"]] == ["Content-Type"]


async def test_a_bad_period_is_refused_naming_the_field(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    auditor = await token_for(client, world.auditor)
    path = f"/api/v1/offices/{world.office.code}/coverage"
    for params, field in (
        ({"from": "2026-13-01", "to": "2026-12-31"}, "from"),
        ({"from": "2026-12-01", "to": "soon"}, "to"),
        ({"from": "2026-12-31", "to": "2026-12-01"}, "from"),
        ({"from": "2025-01-01", "to": "2026-12-31"}, "to"),
        ({"sender": "not a code"}, "sender"),
        ({"format": "xml"}, "format"),
    ):
        answer = await client.get(path, headers=auditor, params=params)
        assert answer.status_code == 422, (params, answer.text)
        assert [e["field"] for e in answer.json()["errors"]] == [field], params
    whole_year = await client.get(
        path, headers=auditor, params={"from": "2024-01-01", "to": "2024-12-31"}
    )
    assert whole_year.status_code == 200


async def test_other_offices_and_applicants_are_told_the_hub_does_not_exist(
    client: AsyncClient, services: Services
) -> None:
    hub = await make_world(services)
    other = await make_world(services)
    path = f"/api/v1/offices/{hub.office.code}"
    for user in (other.dispatcher, hub.applicant):
        headers = await token_for(client, user)
        assert (await client.get(f"{path}/coverage", headers=headers)).status_code == 404
        assert (await client.post(f"{path}/coverage/reminders", headers=headers)).status_code == 404
        put = await client.put(
            f"{path}/expected-items",
            headers={**headers, "Content-Type": "text/csv"},
            content=f"{HEADER}\r\n".encode(),
        )
        assert put.status_code == 404
    auditor = await token_for(client, hub.auditor)
    assert (await client.get(f"{path}/coverage", headers=auditor)).status_code == 200
    assert (await client.post(f"{path}/coverage/reminders", headers=auditor)).status_code == 403
    put = await client.put(
        f"{path}/expected-items",
        headers={**auditor, "Content-Type": "text/csv"},
        content=f"{HEADER}\r\nEP,search-copy,PCT/EP2026/000001,2026-12-01\r\n".encode(),
    )
    assert put.status_code == 403
    async with services.db.session() as session:
        assert (await session.exec(select(func.count()).select_from(ExpectedItem))).one() == 0


async def _drain(services: Services) -> None:
    await drain_until_idle(services, worker_id="test-worker")


@both_backends
async def test_the_late_office_gets_one_reminder_listing_its_items_and_only_once_a_day(
    client: AsyncClient, services: Services, smtp_server: SmtpServer
) -> None:
    hub, dispatcher = await hub_with_list(client, services)
    await _drain(services)  # the hub's own alerts of the notices it received
    smtp_server.reset()
    path = f"/api/v1/offices/{hub.code}/coverage/reminders"

    first = await client.post(path, headers=dispatcher, params=hub.period())

    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["sent"] == 1
    assert [(r["sender"], r["items"], r["recipients"]) for r in answer["reminders"]] == [
        ("SA", 5, 1)
    ]
    assert answer["cannot_be_reminded"] == [
        {"sender": "SC", "items": 6, "reason": "the office has no mailbox"}
    ]
    await _drain(services)
    [mail] = await smtp_server.wait_for(1)
    assert mail.rcpt_tos == ("sa@x.test",)
    assert hub.world.office.name in mail.message["Subject"]
    text = mail.message.get_body(("plain",)).get_content()
    html = mail.message.get_body(("html",)).get_content()
    report = (
        await client.get(
            f"/api/v1/offices/{hub.code}/coverage",
            headers=dispatcher,
            params={**hub.period(), "sender": "SA"},
        )
    ).json()
    behind = [i for i in report["items"] if i["status"] in ("late", "missing")]
    assert len(behind) == 5
    for item in behind:
        words = (
            "late (received after its due date)"
            if item["status"] == "late"
            else ("missing (not received, due date passed)")
        )
        line = f"{item['international_application_number']}, {NOTICE}, due {item['due_on']}"
        assert f"{line}: {words}" in text
        assert item["international_application_number"] in html and words in html
        assert item["reminded_at"] is not None
    for item in report["items"]:
        if item["status"] in ("on_time", "pending"):
            assert item["international_application_number"] not in text
            assert item["reminded_at"] is None

    again = await client.post(path, headers=dispatcher, params=hub.period())
    assert again.json()["sent"] == 0 and again.json()["already_reminded_today"] == ["SA"]
    await _drain(services)
    assert len(smtp_server.messages) == 1

    clock.freeze(hub.report_at + timedelta(days=1))  # the next day: reminded again
    dispatcher = await token_for(client, hub.world.dispatcher)  # the first token expired
    next_day = await client.post(path, headers=dispatcher, params=hub.period())
    assert next_day.json()["sent"] == 1


async def test_our_mail_server_down_makes_the_reminder_wait_not_the_office(
    client: AsyncClient, services: Services, smtp_server: SmtpServer
) -> None:
    hub, dispatcher = await hub_with_list(client, services)
    smtp_server.stop()

    answer = await client.post(
        f"/api/v1/offices/{hub.code}/coverage/reminders", headers=dispatcher, params=hub.period()
    )
    await _drain(services)

    assert answer.status_code == 200 and answer.json()["sent"] == 1
    outbox_id = answer.json()["reminders"][0]["outbox_id"]
    async with services.db.session() as session:
        message = await session.get(OutboxMessage, outbox_id)
        # Held back while our channel is down: waiting, no attempt counted, never dead.
        assert message.status == "pending" and message.done_at is None
        sa_mailbox = (await session.exec(select(Account).where(Account.name == "Office SA"))).one()
    assert message.account_id == sa_mailbox.id
    assert sa_mailbox.edelivery_active and sa_mailbox.edelivery_suspended_reason is None

    smtp_server.start()
    clock.freeze(hub.report_at + timedelta(hours=2))  # past the retry's wait
    await _drain(services)
    arrived = [m for m in smtp_server.messages if m.rcpt_tos == ("sa@x.test",)]
    assert len(arrived) == 1
    async with services.db.session() as session:
        assert (await session.get(OutboxMessage, outbox_id)).status == "done"


async def test_the_page_shows_the_counts_and_uploads_and_reminds(
    client: AsyncClient, services: Services
) -> None:
    hub, _ = await hub_with_list(client, services)
    await log_in_page(client, hub.world.dispatcher)

    page = await client.get("/office/coverage", params=hub.period())

    assert page.status_code == 200, page.text
    assert 'aria-current="page">Coverage</a>' in page.text
    for code, counts in EXPECTED_CLASSES.items():
        row = page.text.split(f'id="sender-{code}"')[1].split("</tr>")[0]
        cells = [c.split(">", 1)[1] for c in row.split("<td")[1:]]
        cells = [c.split("</td>")[0] for c in cells]
        assert cells == [
            code,
            "10",
            str(counts["on_time"]),
            str(counts["late"]),
            str(counts["missing"]),
            str(counts["pending"]),
        ]
    assert '<td class="behind">3</td>' in page.text  # SA's late, in red
    assert "missing (not received, due date passed)" in page.text
    assert hub.unexpected_number in page.text
    assert "Send reminders" in page.text

    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    bad = await client.post(
        f"/office/coverage/{hub.code}/expected-items",
        data={"csrf_token": token, **hub.period()},
        files={"list": ("list.csv", f"{HEADER}\r\nSA,x y,PCT/EP2026/1,2026\r\n", "text/csv")},
    )
    assert bad.status_code == 422
    assert "line 2: kind" in bad.text and "line 2: due_on" in bad.text
    no_token = await client.post(f"/office/coverage/{hub.code}/reminders", data=hub.period())
    assert no_token.status_code == 403  # and nothing sent: the next post sends the reminder
    reminded = await client.post(
        f"/office/coverage/{hub.code}/reminders", data={"csrf_token": token, **hub.period()}
    )
    assert reminded.status_code == 200
    assert "1 reminder(s) sent (to SA)" in reminded.text
    assert "SC cannot be reminded: the office has no mailbox" in reminded.text


async def test_the_command_line_uploads_and_reports(
    services: Services, settings: Settings, tmp_path
) -> None:
    world = await make_world(services)
    listed = tmp_path / "expected.csv"
    listed.write_text(
        f"{HEADER}\nEP,search-copy,PCT/EP2026/000001,2026-12-01\n"
        "EP,search-copy,PCT/EP2026/000002,2999-12-01\n"
    )
    code, out, err = await run_cli(
        settings, "--json", "coverage", "upload", world.office.code, str(listed)
    )
    assert code == 0, err
    assert json.loads(out) == {"hub": world.office.code, "added": 2, "updated": 0, "unchanged": 0}

    code, out, err = await run_cli(
        settings,
        "--json",
        "coverage",
        "report",
        world.office.code,
        "--from",
        "2026-12-01",
        "--to",
        "2026-12-31",
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["senders"] == [
        {"sender": "EP", "expected": 1, "on_time": 0, "late": 0, "missing": 1, "pending": 0}
    ]
    code, out, _ = await run_cli(
        settings, "coverage", "report", world.office.code, "--from", "2026-12-01", "--csv"
    )
    assert code == 0 and out.splitlines()[0].startswith("sender,kind,")

    listed.write_text(f"{HEADER}\nEP,search-copy,PCT/EP2026/000003,tomorrow\n")
    code, _, err = await run_cli(settings, "coverage", "upload", world.office.code, str(listed))
    assert code == 2 and "line 2: due_on" in err
