"""Recomputation from the proof bundle always agrees (hypothesis): for generated timelines
(a shipped rule, an office time zone, a document date or none, a pickup or none, a legal scan
and a bundle at generated moments), the bundle the dispatcher downloads verifies, and every
legal date it records is given again, date and sentence, by ``audit recompute``'s function.

Each example dispatches, picks up, scans and builds a sealed bundle for real, so the examples
are few; hypothesis runs them in a thread and hands each step to the test's event loop."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailbox import clock
from mailbox.deliveries.clock_rules import choose_clock_rule, set_office_time_zone
from mailbox.deliveries.legal_clock import PAPER_POSTING, RULES
from mailbox.deliveries.pickup import pick_up
from mailbox.deliveries.scans import run_legal_scans
from mailbox.identity.principal import Principal, load_principal
from mailbox.proof.bundle import build_bundle
from mailbox.proof.recompute import SUMMARY, recompute_bundle
from mailbox.services import Services
from tests.factories import World, deliver, make_world

ELECTRONIC_RULES = sorted(rule.id for rule in RULES.values() if rule.kind != PAPER_POSTING)
ZONES = ["UTC", "Europe/Berlin", "America/Los_Angeles", "Pacific/Kiritimati"]
_dossiers = itertools.count(1)
START = datetime(2026, 11, 20, tzinfo=UTC)


@st.composite
def timelines(draw):
    hours = st.integers(0, 24 * 15)
    return {
        "rule": draw(st.sampled_from(ELECTRONIC_RULES)),
        "zone": draw(st.sampled_from(ZONES)),
        "start": datetime(2026, 11, 20, tzinfo=UTC)
        + timedelta(minutes=draw(st.integers(0, 20000))),
        "document_days": draw(st.none() | st.integers(-20, 0)),
        "pickup_hours": draw(st.none() | hours),
        "scan_hours": draw(hours),
        "bundle_hours": draw(hours),
    }


async def _one(services: Services, world: World, people: dict[str, Principal], t: dict) -> None:
    async with services.db.write() as session:
        await choose_clock_rule(session=session, office=world.office.id, rule_id=t["rule"])
        await set_office_time_zone(session=session, office=world.office.id, zone=t["zone"])
    start = t["start"]
    clock.freeze(start)
    dated = (
        (start + timedelta(days=t["document_days"])).date().isoformat()
        if t["document_days"] is not None
        else None
    )
    delivery = await deliver(
        services, world, dossier_number=f"EP{next(_dossiers)}", document_date=dated
    )
    if t["pickup_hours"] is not None:
        clock.freeze(start + timedelta(hours=t["pickup_hours"]))
        await pick_up(services, people["applicant"], delivery.id, ip="203.0.113.7")
    clock.freeze(start + timedelta(hours=max(t["scan_hours"], t["pickup_hours"] or 0)))
    await run_legal_scans(services)
    clock.freeze(clock.now() + timedelta(hours=t["bundle_hours"]))
    # The dispatcher's bundle: it holds no document, so building it picks nothing up.
    proof = await build_bundle(services, people["dispatcher"], delivery.id)

    report = await asyncio.to_thread(
        recompute_bundle, proof.content, trust_root=services.keys.root_cert
    )

    assert report.verified, report.verification.failed()
    assert report.agrees, [(r.where, r.problems) for r in report.results if not r.agrees]
    wheres = [r.where for r in report.results]
    assert wheres[-1] == SUMMARY and any("ContentConsignment" in w for w in wheres)
    assert any("ContentHandover" in w for w in wheres) == (t["pickup_hours"] is not None)


async def test_recomputation_from_the_bundle_always_agrees(services: Services) -> None:
    loop = asyncio.get_running_loop()
    world = await make_world(services, deemed_days=10)
    async with services.db.session() as session:
        people = {
            "applicant": await load_principal(session, world.applicant.id),
            "dispatcher": await load_principal(session, world.dispatcher.id),
        }

    @settings(
        max_examples=12,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(timelines())
    def check(timeline: dict) -> None:
        future = asyncio.run_coroutine_threadsafe(_one(services, world, people, timeline), loop)
        future.result(timeout=120)

    await asyncio.to_thread(check)
