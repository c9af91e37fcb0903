"""One legal fact, one sentence: the legal clock decides a delivery's legal date once, and the
new-delivery email, the digest, the delivery page, the API, the proof bundle's summary and its
sealed receipt all show that sentence, before and after deemed delivery, and after closed days
and an outage moved it; the newest signed record in the bundle states it too, and recomputing
it from the bundle alone gives it again."""

from __future__ import annotations

import html
import io
import json
import re
import zipfile
from datetime import UTC, datetime, timedelta

from httpx import AsyncClient
from pyhanko.pdf_utils.reader import PdfFileReader

from mailbox import clock
from mailbox.deliveries.clock_rules import (
    choose_clock_rule,
    set_office_calendar,
    set_office_time_zone,
)
from mailbox.deliveries.outages import record_outage
from mailbox.deliveries.scans import run_legal_scans
from mailbox.models import Delivery, OutboxKind, OutboxMessage
from mailbox.notifications.outbox import drain_until_idle
from mailbox.proof.recompute import SUMMARY, recompute_bundle
from mailbox.services import Services
from tests.factories import deliver, log_in_page, make_world, token_for
from tests.fixtures.smtp import SmtpServer

_PDF_STRING = re.compile(rb"\((?:[^()\\]|\\.)*\)")


def _day(at) -> str:
    return f"{at.day} {at:%b} {at.year}"


def _flat(text: str) -> str:
    return " ".join(html.unescape(text).split())


def _pdf_text(pdf: bytes) -> str:
    """The text of a PDF's pages as shown (reportlab writes one string per wrapped line)."""
    reader = PdfFileReader(io.BytesIO(pdf))
    parts: list[str] = []
    for page in range(len(reader.root["/Pages"]["/Kids"])):
        content = reader.root["/Pages"]["/Kids"][page].get_object()["/Contents"]
        data = content.get_object().data
        for raw in _PDF_STRING.findall(data):
            parts.append(re.sub(rb"\\(.)", rb"\1", raw[1:-1]).decode("latin-1"))
    return _flat(" ".join(parts))


async def _mail_bodies(smtp_server: SmtpServer, n: int) -> list[str]:
    arrived = await smtp_server.wait_for(n)
    return [
        _flat(m.message.get_body((kind,)).get_content())
        for m in arrived[-1:]
        for kind in ("plain", "html")
    ]


async def _surfaces(
    client: AsyncClient, services: Services, world, delivery_id: str
) -> dict[str, str]:
    """The delivery page, the API and the dispatcher's proof bundle (which holds no document, so
    fetching it picks nothing up)."""
    api = await client.get(
        f"/api/v1/deliveries/{delivery_id}", headers=await token_for(client, world.applicant)
    )
    bundle = await client.get(
        f"/api/v1/deliveries/{delivery_id}/proof", headers=await token_for(client, world.dispatcher)
    )
    await log_in_page(client, world.applicant)
    page = await client.get(f"/deliveries/{delivery_id}")
    assert api.status_code == bundle.status_code == page.status_code == 200
    deadline = re.search(r'<p class="deadline" id="deadline">(.*?)</p>', page.text, re.S)
    assert deadline is not None, page.text
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as archive:
        evidence = json.loads(archive.read("evidence.json"))
        summary = evidence["delivery"]["legal_date"]
        receipt = _pdf_text(archive.read("receipt.pdf"))
    signed = [r for r in evidence["records"] if "legal_date" in r["details"]][-1]
    recomputed = recompute_bundle(bundle.content, trust_root=services.keys.root_cert)
    assert recomputed.agrees, recomputed.as_dict()
    [again] = [r for r in recomputed.results if r.where == SUMMARY]
    return {
        "signed record": signed["details"]["legal_date"]["sentence"],
        "recomputed": again.computed["sentence"],
        "api": api.json()["legal_date"]["sentence"],
        "page": _flat(deadline.group(1)),
        "bundle": summary["sentence"],
        "receipt": receipt,
    }


async def test_every_surface_shows_the_one_sentence_of_the_legal_clock(
    client: AsyncClient, services: Services, smtp_server: SmtpServer
) -> None:
    world = await make_world(services, deemed_days=10)
    delivery = await deliver(services, world, dossier_number="EP24000001.1")
    available, due = delivery.available_at, delivery.available_at + timedelta(days=10)
    pending = (
        f"Deemed delivered on {_day(due)} (UTC) unless it is opened before: 10 days after it "
        f"was made available on {_day(available)}."
    )

    await drain_until_idle(services, worker_id="w")
    alert = await _mail_bodies(smtp_server, 1)
    async with services.db.write() as session:  # the same delivery in a digest, as sent
        session.add(
            OutboxMessage(
                kind=OutboxKind.EMAIL_DIGEST,
                account_id=world.account.id,
                payload={"delivery_ids": [delivery.id]},
            )
        )
    await drain_until_idle(services, worker_id="w")
    digest = await _mail_bodies(smtp_server, 2)
    shown = await _surfaces(client, services, world, delivery.id)

    for body in alert + digest:
        assert pending in body
        assert "counts for time limits" not in body and "count from" not in body
    assert shown["api"] == shown["page"] == shown["bundle"] == pending
    assert shown["signed record"] == shown["recomputed"] == pending
    assert pending in shown["receipt"]

    clock.set_offset(timedelta(days=11))
    assert (await run_legal_scans(services)).deemed_delivered == 1
    await drain_until_idle(services, worker_id="w")
    deemed_mail = await _mail_bodies(smtp_server, 3)
    settled = (
        f"Deemed delivered on {_day(due)} (UTC): 10 days after it was made available on "
        f"{_day(available)}; it was not opened before."
    )
    shown = await _surfaces(client, services, world, delivery.id)
    for body in deemed_mail:
        assert settled in body
    assert shown["api"] == shown["page"] == shown["bundle"] == settled
    assert shown["signed record"] == shown["recomputed"] == settled
    assert settled in shown["receipt"]
    async with services.db.session() as session:
        assert (await session.get(Delivery, delivery.id)).status == "deemed_delivered"


async def test_every_surface_says_how_closed_days_and_an_outage_moved_the_date(
    client: AsyncClient, services: Services, smtp_server: SmtpServer
) -> None:
    world = await make_world(services)
    async with services.db.write() as session:
        await set_office_time_zone(session=session, office=world.office.code, zone="Europe/Berlin")
        await set_office_calendar(
            session=session, office=world.office.code, country="DE", subdivision="BY"
        )
        await choose_clock_rule(session=session, office=world.office.code, rule_id="de-mail-v1")
    clock.freeze(datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    delivery = await deliver(services, world, dossier_number="EP24000002.2")
    moved = (
        "3 days after it was made available on 2 Dec 2026, moved from Sat 5 Dec 2026 to "
        "Mon 7 Dec 2026 because the office was closed"
    )
    await drain_until_idle(services, worker_id="w")
    alert = await _mail_bodies(smtp_server, 1)
    clock.freeze(datetime(2026, 12, 7, 21, 0, tzinfo=UTC))
    outage = await record_outage(
        services,
        starts_at=datetime(2026, 12, 7, 7, 0, tzinfo=UTC),
        ends_at=datetime(2026, 12, 7, 19, 0, tzinfo=UTC),
        affected="Pickup",
        office=None,
        actor="operator",
    )

    shown = await _surfaces(client, services, world, delivery.id)

    pending = f"Deemed delivered on 7 Dec 2026 (Europe/Berlin) unless it is opened before: {moved}."
    for body in alert:
        assert pending in body
    extended = (
        f"Deemed delivered on 8 Dec 2026 (Europe/Berlin) unless it is opened before: {moved}, "
        "extended to Tue 8 Dec 2026 because the service was out of order on 7 Dec 2026 "
        f"(outage {outage.id})."
    )
    assert shown["api"] == shown["page"] == shown["bundle"] == shown["recomputed"] == extended
    assert extended in shown["receipt"]
