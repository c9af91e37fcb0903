"""Properties of the legal clock over generated timelines (hypothesis): the legal date never
precedes consignment (under the EPO rule the date on the document is the legal date by law,
and time limits then never count from more than the rule's grace before consignment); a
pickup never makes it later under the "whichever first" rules; and the answer recorded as
evidence, read back by ``inputs_from_evidence``, gives the same answer again."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from mailbox.deliveries.legal_clock import (
    DOCUMENT_DATE,
    PAPER_POSTING,
    PICKUP_OR_N_DAYS,
    RULES,
    Events,
    Rule,
    inputs_from_evidence,
    legal_date,
)

ZONES = ["UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Tokyo", "Pacific/Kiritimati"]

rules = st.one_of(
    st.sampled_from(sorted(RULES.values(), key=lambda r: r.id)),
    st.integers(0, 60).map(lambda n: Rule("pickup-or-n-days-v1", 1, PICKUP_OR_N_DAYS, n)),
)
moments = st.datetimes(
    min_value=datetime(2019, 1, 1), max_value=datetime(2031, 12, 31), timezones=st.just(UTC)
)
delays = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=90))


@st.composite
def timelines(draw):
    """A rule, a zone, the events of one delivery (each after the one it follows) and the
    moment the clock is asked."""
    rule = draw(rules)
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    start = draw(moments)
    if rule.kind == PAPER_POSTING:
        posted = draw(st.none() | st.just(start))
        events = Events(paper_posted_at=posted)
    else:
        picked = draw(st.none() | delays.map(lambda d: start + d))
        dated = draw(
            st.none() | st.integers(-60, 1).map(lambda n: (start + timedelta(days=n)).date())
        )
        events = Events(available_at=start, picked_up_at=picked, document_date=dated)
    at = start + draw(delays)
    if events.picked_up_at is not None:
        at = max(at, events.picked_up_at)
    return rule, zone, events, at


FAST = settings(max_examples=300, deadline=None)


@FAST
@given(timelines())
def test_the_legal_date_never_precedes_consignment(timeline) -> None:
    rule, zone, events, at = timeline
    legal = legal_date(events, rule, at=at, zone=zone)
    consigned = events.available_at or events.paper_posted_at
    if consigned is None:
        assert legal.delivered_on is None
        return
    day = consigned.astimezone(zone).date()
    if rule.kind == DOCUMENT_DATE and events.document_date is not None:
        assert legal.delivered_on == events.document_date
        assert legal.counts_from >= day - timedelta(days=rule.days)
        assert legal.counts_from >= legal.delivered_on
    else:
        assert legal.delivered_on >= day
        assert legal.counts_from >= day


@FAST
@given(timelines())
def test_a_pickup_never_makes_it_later_under_whichever_first_rules(timeline) -> None:
    rule, zone, events, at = timeline
    if rule.kind != PICKUP_OR_N_DAYS or events.picked_up_at is None:
        return
    with_pickup = legal_date(events, rule, at=at, zone=zone)
    without = legal_date(
        Events(available_at=events.available_at, document_date=events.document_date),
        rule,
        at=at,
        zone=zone,
    )
    assert with_pickup.delivered_on <= without.delivered_on
    assert with_pickup.counts_from <= without.counts_from
    if with_pickup.delivered_on < without.delivered_on:
        assert with_pickup.basis == "pickup" and with_pickup.settled


@FAST
@given(timelines())
def test_the_recorded_answer_read_back_gives_the_same_answer(timeline) -> None:
    rule, zone, events, at = timeline
    recorded = legal_date(events, rule, at=at, zone=zone).evidence()
    stored = json.loads(json.dumps(recorded))  # as the evidence log and the bundle keep it

    again = inputs_from_evidence(stored).compute()

    assert again.evidence() == recorded
