"""The legal clock: when a document counts as delivered and from which date time limits
count (:func:`legal_date`, the ONE place that decides it and words it), when a document not
picked up is deemed delivered, and when reminders fall due (the account's schedule or the
service default). Pure functions of times, rules and settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailbox.deliveries.calendars import Calendar, OutagePeriod, Shift, shift
from mailbox.models import Account, Delivery
from mailbox.timefmt import rfc3339

__all__ = [
    "DEFAULT_RULE_ID",
    "RULES",
    "Calendar",
    "ClockInputs",
    "Events",
    "LegalDate",
    "OutagePeriod",
    "Rule",
    "check_zone",
    "deemed_moment",
    "events_of",
    "explain",
    "inputs_from_evidence",
    "legal_date",
    "letter_sentence",
    "posting_effect",
    "reminder_days_for",
    "reminders_due",
    "rule_of_delivery",
    "rule_with_days",
]

DEFAULT_RULE_ID = "pickup-or-n-days-v1"
PAPER_RULE_ID = "paper-posting-v1"  # deliveries never made available electronically

# Kinds of rule (the code); a rule is a kind with parameters (the data).
PICKUP_OR_N_DAYS = "pickup-or-n-days"
AVAILABILITY = "availability"
DOCUMENT_DATE = "document-date"
PAPER_POSTING = "paper-posting"
KINDS = (PICKUP_OR_N_DAYS, AVAILABILITY, DOCUMENT_DATE, PAPER_POSTING)


@dataclass(frozen=True)
class Rule:
    """A named, versioned rule of the legal clock: a kind and its parameters: ``days`` (the N
    of ``pickup-or-n-days`` and ``paper-posting``, the grace period of ``document-date``),
    ``closed_day_moves`` (a date it decides that falls on a day the office is closed moves to
    its next working day) and ``outage_extends`` (a certified outage touching the period
    extends the date to the first working day after the outage)."""

    id: str
    version: int
    kind: str
    days: int = 0
    source: str = ""
    closed_day_moves: bool = False
    outage_extends: bool = False

    def evidence(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "kind": self.kind,
            "days": self.days,
            "closed_day_moves": self.closed_day_moves,
            "outage_extends": self.outage_extends,
        }


# The shipped rules: data. A new rule of an existing kind is one more row here, never code; a
# changed rule gets a new id (its version), so that a delivery's recorded rule id always means
# what it meant when the delivery was consigned. (``closed_day_moves`` and ``outage_extends``
# were added to the v1 rules without new ids: a move needs the calendar a delivery keeps from
# its consignment, and deliveries consigned before calendars keep none, so no date decided
# before changes; outages did not exist before either.)
RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule(
            "pickup-or-n-days-v1",
            1,
            PICKUP_OR_N_DAYS,
            10,
            "The earlier of pickup and N days after it was made available (Italy's SEND, "
            "German De-Mail style); N is the office's deemed-delivery days (default 10). "
            "Calendar days, not moved off closed days; a certified outage of ours extends it "
            "(our faults never count against a recipient).",
            outage_extends=True,
        ),
        Rule(
            "send-it-v1",
            1,
            PICKUP_OR_N_DAYS,
            7,
            "Italy, SEND: the earlier of pickup and 7 days after electronic delivery "
            "(art. 26 D.L. 76/2020): calendar days, not moved off closed days; the platform's "
            "certified malfunctions extend it.",
            outage_extends=True,
        ),
        Rule(
            "de-mail-v1",
            1,
            PICKUP_OR_N_DAYS,
            3,
            "Germany, De-Mail: the third day after sending, unless a pickup is recorded "
            "before (s. 5a(4) VwZG); a third day on a Saturday, Sunday or public holiday moves "
            "to the next working day (s. 108(3) AO, BFH IX R 68/98).",
            closed_day_moves=True,
            outage_extends=True,
        ),
        Rule(
            "epct-availability-v1",
            1,
            AVAILABILITY,
            0,
            "WIPO ePCT, PCT Administrative Instructions s709(b-bis): delivered the day it is "
            "available in the mailbox (not moved off closed days); an outage of the service "
            "on that day is excused (PCT Rule 82quater, AI s709(c)): time limits count from "
            "the first working day after it.",
            outage_extends=True,
        ),
        Rule(
            "epo-2023-v1",
            1,
            DOCUMENT_DATE,
            7,
            "EPO Rule 126(2) EPC as amended 1 Nov 2023: deemed notified on the date it bears; "
            "if it reached the recipient more than 7 days later, time limits are extended by "
            "the excess. Without a document date, the day it was made available. The day time "
            "limits count from moves off days the office is closed and past certified outages "
            "(Rule 134(1) EPC).",
            closed_day_moves=True,
            outage_extends=True,
        ),
        Rule(
            "paper-posting-v1",
            1,
            PAPER_POSTING,
            10,
            "Paper: deemed delivered 10 days after the letter was posted (SEND): calendar "
            "days; an outage of the electronic service does not touch the post.",
        ),
        Rule(
            "paper-posting-de-v1",
            1,
            PAPER_POSTING,
            4,
            "Germany, paper: deemed notified on the fourth day after posting (s. 41(2) VwVfG, "
            "s. 122(2) AO as amended from 2025); a fourth day on a Saturday, Sunday or public "
            "holiday moves to the next working day (s. 108(3) AO, BFH IX R 68/98).",
            closed_day_moves=True,
        ),
    )
}


def rule_with_days(rule_id: str, default_days: int) -> Rule:
    """The shipped rule ``rule_id``; the default rule takes the office's deemed-delivery days
    (``deemed_delivery_days``), so that the old settings keep working. ``KeyError`` if unknown."""
    rule = RULES[rule_id]
    if rule.id == DEFAULT_RULE_ID:
        return replace(rule, days=default_days)
    return rule


def deemed_moment(rule: Rule, available_at: datetime, shifted_days: int = 0) -> datetime | None:
    """When the deemed-delivery scan must look at a document consigned at ``available_at``:
    only the rules under which not picking it up makes it delivered later have such a moment;
    ``shifted_days`` are the days closed days and outages moved the deemed date by
    (:attr:`LegalDate.shifted_days`)."""
    if rule.kind == PICKUP_OR_N_DAYS:
        return available_at + timedelta(days=rule.days + shifted_days)
    return None


@dataclass(frozen=True)
class Events:
    """The events of a delivery that the legal clock reads (``None``: did not happen)."""

    available_at: datetime | None = None
    picked_up_at: datetime | None = None
    paper_posted_at: datetime | None = None
    document_date: date | None = None


@dataclass(frozen=True)
class LegalDate:
    """What :func:`legal_date` decided. ``delivered_on`` is the legal delivery date (``None``
    while nothing makes it known yet), ``counts_from`` the day time limits count from (later
    than ``delivered_on`` only when a rule extends them), ``settled`` whether it can no longer
    change, ``basis`` the event that decided it, ``sentence`` the one sentence every surface
    shows, ``reasoning`` the same as data for the evidence."""

    rule: Rule
    zone: str
    delivered_on: date | None
    counts_from: date | None
    settled: bool
    basis: str
    sentence: str
    reasoning: dict[str, Any]
    shifted_days: int = 0  # how far closed days and outages moved the date the rule decided

    def evidence(self) -> dict[str, Any]:
        """What goes into the evidence of the delivery: enough to recompute the date."""
        return {
            "rule": self.rule.evidence(),
            "zone": self.zone,
            "delivered_on": self.delivered_on.isoformat() if self.delivered_on else None,
            "counts_from": self.counts_from.isoformat() if self.counts_from else None,
            "basis": self.basis,
            "sentence": self.sentence,
            **self.reasoning,
        }


def day(d: date) -> str:
    """``3 Dec 2026``: a legal date as every sentence of the clock writes it."""
    return f"{d.day} {d:%b} {d.year}"


def _local(at: datetime, zone: tzinfo) -> date:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at.isoformat()}: say which time zone it is in")
    return at.astimezone(zone).date()


def _zone_name(zone: tzinfo) -> str:
    return getattr(zone, "key", None) or ("UTC" if zone is UTC else str(zone))


def legal_date(
    events: Events,
    rule: Rule,
    *,
    at: datetime,
    zone: tzinfo = UTC,
    calendar: Calendar | None = None,
    outages: Sequence[OutagePeriod] = (),
) -> LegalDate:
    """The legal delivery date of a delivery with ``events`` under ``rule``, as known at
    ``at``, in the office's time zone ``zone`` (a day ends at midnight there), with the
    office's ``calendar`` (closed days; ``None``: none known) and the certified ``outages``
    of the service: the ONE place that decides it. Every surface shows
    :attr:`LegalDate.sentence`; the evidence records every input it used."""
    name = _zone_name(zone)
    moved: Shift | None = None

    def moving(target: date, since: date) -> Shift:
        nonlocal moved
        moved = shift(
            target,
            since=since,
            moves=rule.closed_day_moves,
            outages_extend=rule.outage_extends,
            calendar=calendar,
            outages=outages,
            zone=zone,
        )
        return moved

    def result(
        delivered: date | None,
        settled: bool,
        basis: str,
        sentence: str,
        counts_from: date | None = None,
        **reasoning: Any,
    ) -> LegalDate:
        used = {
            k: (rfc3339(v) if isinstance(v, datetime) else v.isoformat())
            for k, v in (
                ("available_at", events.available_at),
                ("picked_up_at", events.picked_up_at),
                ("paper_posted_at", events.paper_posted_at),
                ("document_date", events.document_date),
            )
            if v is not None
        }
        if moved is not None:
            reasoning = {**moved.reasoning, **reasoning}
        elif calendar is not None:
            reasoning = {"calendar": calendar.evidence(), **reasoning}
        return LegalDate(
            rule=rule,
            zone=name,
            delivered_on=delivered,
            counts_from=counts_from or delivered,
            settled=settled,
            basis=basis,
            sentence=sentence,
            reasoning={"events": used, "as_of": rfc3339(at), **reasoning},
            shifted_days=(moved.final - moved.original).days if moved is not None else 0,
        )

    where = f"({name})"
    available = _local(events.available_at, zone) if events.available_at else None
    picked = _local(events.picked_up_at, zone) if events.picked_up_at else None

    if rule.kind == PAPER_POSTING:
        if events.paper_posted_at is None:
            return result(None, False, "none", "Not delivered yet: the letter has not been posted.")
        posted = _local(events.paper_posted_at, zone)
        due = moving(posted + timedelta(days=rule.days), posted).final
        verb = "Deemed delivered" if _local(at, zone) >= due else "To be deemed delivered"
        return result(
            due,
            True,
            "posting",
            f"{verb} on {day(due)} {where}: {_after_posting(rule)} on "
            f"{day(posted)}{_clause(moved)}.",
            days=rule.days,
        )
    if available is None:
        return result(None, False, "none", "Not delivered yet: the document is not available.")
    if rule.kind == AVAILABILITY:
        counts = moving(available, available).final
        later = "" if counts == available else f"; time limits count from {day(counts)}"
        return result(
            available,
            True,
            "availability",
            f"Delivered on {day(available)} {where}, the day it was made available"
            f"{later}{_clause(moved)}.",
            counts_from=counts,
        )
    if rule.kind == DOCUMENT_DATE:
        if events.document_date is None:
            counts = moving(available, available).final
            later = "" if counts == available else f"; time limits count from {day(counts)}"
            return result(
                available,
                True,
                "availability",
                f"Delivered on {day(available)} {where}, the day it was made available; the "
                f"document bears no date{later}{_clause(moved)}.",
                counts_from=counts,
            )
        dated = events.document_date
        late = (available - dated).days
        excess = max(0, late - rule.days)
        counts = moving(dated + timedelta(days=excess), dated).final
        if excess == 0:
            later = "" if counts == dated else f"; time limits count from {day(counts)}"
            return result(
                dated,
                True,
                "document-date",
                f"Deemed delivered on {day(dated)} {where}, the date on the document; it was "
                f"made available on {day(available)}, within {rule.days} days"
                f"{later}{_clause(moved)}.",
                counts_from=counts,
                excess_days=0,
            )
        return result(
            dated,
            True,
            "document-date",
            f"Deemed delivered on {day(dated)} {where}, the date on the document; it was made "
            f"available on {day(available)}, {late} days later, so time limits are extended by "
            f"{excess} days and count from {day(counts)}{_clause(moved)}.",
            counts_from=counts,
            excess_days=excess,
        )
    if rule.kind != PICKUP_OR_N_DAYS:
        raise ValueError(f"unknown kind of legal-clock rule: {rule.kind}")
    due = moving(available + timedelta(days=rule.days), available).final
    since = f"{rule.days} days after it was made available on {day(available)}{_clause(moved)}"
    if picked is not None and picked <= due:
        return result(
            picked, True, "pickup", f"Delivered on {day(picked)} {where}, when it was opened."
        )
    if _local(at, zone) >= due:
        return result(
            due,
            True,
            "deemed",
            f"Deemed delivered on {day(due)} {where}: {since}; it was not opened before.",
            days=rule.days,
        )
    return result(
        due,
        False,
        "deemed",
        f"Deemed delivered on {day(due)} {where} unless it is opened before: {since}.",
        days=rule.days,
    )


def _clause(moved: Shift | None) -> str:
    """What outages and closed days did to the date, as the end of the sentence."""
    return "" if moved is None else moved.clause


def _after_posting(rule: Rule) -> str:
    return f"{rule.days} days after the letter was posted"


def posting_effect(rule: Rule, zone: str) -> str:
    """What a ``paper-posting`` rule will say of a letter once it is posted, before anyone
    knows the day: the same words as :func:`legal_date`'s sentence, less the dates."""
    if rule.kind != PAPER_POSTING:
        raise ValueError(f"rule {rule.id} is not a paper-posting rule")
    return f"Deemed delivered {_after_posting(rule)} ({zone}): the date of posting is recorded."


def letter_sentence(delivery: Delivery, *, at: datetime) -> str:
    """The one line of legal effect a paper letter prints: under a paper-posting rule, what
    the rule will say once the letter is posted (:func:`posting_effect`); under any other rule
    (a document made available before it went to paper), its sentence as of ``at``."""
    rule = rule_of_delivery(delivery)
    if rule.kind == PAPER_POSTING:
        return posting_effect(rule, delivery.clock_zone or "UTC")
    return explain(delivery, at=at).sentence


def events_of(delivery: Delivery) -> Events:
    return Events(
        available_at=delivery.available_at,
        picked_up_at=delivery.picked_up_at,
        paper_posted_at=delivery.paper_posted_at,
        document_date=delivery.document_date,
    )


def rule_of_delivery(delivery: Delivery) -> Rule:
    """The rule a delivery was consigned under, with the days recorded with it; a delivery
    consigned before rules were recorded followed the default rule, its N being the time
    between consignment and its deemed-due time."""
    if delivery.clock_rule is not None and delivery.clock_rule in RULES:
        rule = RULES[delivery.clock_rule]
        days = rule.days if delivery.clock_days is None else delivery.clock_days
        return replace(rule, days=days)
    if delivery.available_at is None:  # never made available: served on paper
        return RULES[PAPER_RULE_ID]
    days = 0
    if delivery.deemed_due_at is not None:
        days = (delivery.deemed_due_at - delivery.available_at).days
    return rule_with_days(DEFAULT_RULE_ID, days)


def explain(delivery: Delivery, *, at: datetime) -> LegalDate:
    """:func:`legal_date` of a stored delivery, under the rule, in the office time zone and
    with the office calendar it was consigned under (UTC and no calendar for deliveries
    consigned before those were recorded), and the certified outages recorded on it."""
    zone = ZoneInfo(delivery.clock_zone) if delivery.clock_zone else UTC
    calendar = Calendar.from_json(delivery.clock_calendar) if delivery.clock_calendar else None
    outages = [OutagePeriod.from_json(o) for o in delivery.clock_outages or ()]
    return legal_date(
        events_of(delivery),
        rule_of_delivery(delivery),
        at=at,
        zone=zone,
        calendar=calendar,
        outages=outages,
    )


@dataclass(frozen=True)
class ClockInputs:
    """Everything :func:`legal_date` read for one recorded answer, rebuilt from its evidence
    (:func:`inputs_from_evidence`): enough to compute it again without the database."""

    events: Events
    rule: Rule
    zone: tzinfo
    at: datetime
    calendar: Calendar | None = None
    outages: tuple[OutagePeriod, ...] = ()

    def compute(self) -> LegalDate:
        """The legal clock's answer for these inputs, computed now, again."""
        return legal_date(
            self.events,
            self.rule,
            at=self.at,
            zone=self.zone,
            calendar=self.calendar,
            outages=self.outages,
        )


def inputs_from_evidence(recorded: Mapping[str, Any], *, at: datetime | None = None) -> ClockInputs:
    """The inputs of a legal date recorded as :meth:`LegalDate.evidence` (the ``legal_date`` of
    an evidence record's details, or of a proof bundle): the ONE place that reads them back, so
    that whatever the clock records it also reads here. ``at`` stands in for the moment of the
    computation when the record predates ``as_of`` (its record's time). The rule is rebuilt
    from its recorded kind and days (a rule this version does not ship is still recomputed);
    ``ValueError`` names what is missing or malformed."""
    try:
        rule_data = recorded["rule"]
        kind = rule_data["kind"]
        if kind not in KINDS:
            raise ValueError(f"unknown kind of rule {kind!r}")
        days, version = rule_data["days"], rule_data["version"]
        if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 3650:
            raise ValueError(f"the rule's days are not a number of days: {days!r}")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ValueError(f"the rule's version is not a number: {version!r}")
        rule_id = str(rule_data["id"])
        shipped = RULES.get(rule_id)
        rule = Rule(
            rule_id,
            version,
            kind,
            days,
            shipped.source if shipped else "",
            closed_day_moves=bool(rule_data.get("closed_day_moves", False)),
            outage_extends=bool(rule_data.get("outage_extends", False)),
        )
        zone = ZoneInfo(check_zone(str(recorded["zone"])))
        used = recorded.get("events") or {}
        if not isinstance(used, Mapping):
            raise ValueError("the events are not a mapping")

        def moment(name: str) -> datetime | None:
            value = used.get(name)
            if value is None:
                return None
            parsed = datetime.fromisoformat(str(value))
            if parsed.tzinfo is None:
                raise ValueError(f"{name} has no time zone: {value!r}")
            return parsed

        document_date = used.get("document_date")
        events = Events(
            available_at=moment("available_at"),
            picked_up_at=moment("picked_up_at"),
            paper_posted_at=moment("paper_posted_at"),
            document_date=date.fromisoformat(str(document_date)) if document_date else None,
        )
        as_of = recorded.get("as_of")
        when = datetime.fromisoformat(str(as_of)) if as_of else at
        if when is None or when.tzinfo is None:
            raise ValueError("the moment it was computed is not recorded (as_of)")
        calendar = Calendar.from_json(recorded["calendar"]) if recorded.get("calendar") else None
        outages = tuple(OutagePeriod.from_json(o) for o in recorded.get("outages") or ())
    except KeyError as exc:
        raise ValueError(f"{exc.args[0]} is missing") from None
    except (TypeError, AttributeError) as exc:
        raise ValueError(f"malformed: {exc}") from None
    return ClockInputs(events, rule, zone, when, calendar, outages)


def check_zone(name: str) -> str:
    """``name`` if it is an IANA time zone this machine knows, else ``ValueError``."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"Unknown time zone {name!r} (an IANA name, e.g. Europe/Berlin)") from exc
    return name


def reminders_due(available_at: datetime, schedule_days: Sequence[int], at: datetime) -> int:
    """How many reminders of ``schedule_days`` have fallen due by ``at``. A scan that finds
    this above ``reminders_sent`` sends ONE reminder and counts all the due ones as sent, so
    that a service back from downtime does not send a burst of stale reminders."""
    return sum(1 for days in schedule_days if at >= available_at + timedelta(days=days))


def reminder_days_for(account: Account, default: Sequence[int]) -> list[int]:
    """Days after consignment to remind: the account's own schedule (``[]`` = none), or the
    service default while the account has not chosen (``None``)."""
    return list(default if account.reminder_days is None else account.reminder_days)
