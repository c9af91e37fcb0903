"""Which shipped rule of the legal clock each office follows, per document kind, and the
office's calendar of closed days: read at dispatch, set by the operator (``python -m mailbox
office clock``, ``office calendar``) or, rule and time zone, by the office's dispatchers
through the API (:func:`office_clock`, the one use case that opens its own transaction). The
other functions take ``session`` and never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.deliveries.calendars import Calendar, office_calendar
from mailbox.deliveries.legal_clock import (
    DEFAULT_RULE_ID,
    RULES,
    Rule,
    check_zone,
    rule_with_days,
)
from mailbox.errors import FieldError, InvalidRequest
from mailbox.identity.admin import find_office, office_seen_by
from mailbox.identity.principal import Principal
from mailbox.models import ANY_KIND, ClockRuleChoice, Office
from mailbox.services import Services

__all__ = [
    "OfficeClock",
    "calendar_of",
    "choose_clock_rule",
    "clock_rule_for",
    "list_clock_rules",
    "office_clock",
    "set_office_calendar",
    "set_office_time_zone",
]


async def clock_rule_for(
    *, session: AsyncSession, office: Office, kind_code: str, default_days: int
) -> Rule:
    """The rule for ``office``'s documents of ``kind_code``: the kind's own choice, else the
    office-wide one, else the default rule; ``default_days`` is the N of the default rule."""
    rows = (
        await session.exec(
            select(ClockRuleChoice)
            .where(ClockRuleChoice.office_id == office.id)
            .where(col(ClockRuleChoice.kind_code).in_([kind_code, ANY_KIND]))
        )
    ).all()
    by_kind = {row.kind_code: row.rule_id for row in rows}
    rule_id = by_kind.get(kind_code) or by_kind.get(ANY_KIND) or DEFAULT_RULE_ID
    if rule_id not in RULES:  # a rule no longer shipped: never silently another one
        raise InvalidRequest(f"Office {office.code} follows unknown legal-clock rule {rule_id}")
    return rule_with_days(rule_id, default_days)


async def choose_clock_rule(
    *, session: AsyncSession, office: str, rule_id: str, kind_code: str | None = None
) -> ClockRuleChoice:
    """``office`` (its id or code) follows ``rule_id`` for documents of ``kind_code`` (every
    kind when ``None``) from its next dispatch on; deliveries already made keep their rule."""
    if rule_id not in RULES:
        raise InvalidRequest(
            f"Unknown legal-clock rule {rule_id!r}; the rules are: {', '.join(sorted(RULES))}",
            errors=[FieldError("rule", "one of " + ", ".join(sorted(RULES)))],
        )
    kind = (kind_code or ANY_KIND).strip()
    if not kind or len(kind) > 32:
        raise InvalidRequest(
            "A document kind is 1-32 characters", errors=[FieldError("kind", "1-32 characters")]
        )
    found = await find_office(session=session, office=office)
    row = (
        await session.exec(
            select(ClockRuleChoice)
            .where(ClockRuleChoice.office_id == found.id)
            .where(ClockRuleChoice.kind_code == kind)
        )
    ).first() or ClockRuleChoice(office_id=found.id, kind_code=kind, rule_id=rule_id)
    row.rule_id = rule_id
    row.updated_at = now()
    session.add(row)
    await session.flush()
    return row


async def list_clock_rules(*, session: AsyncSession, office: str) -> list[ClockRuleChoice]:
    """The choices of ``office`` (id or code), the office-wide one first."""
    found = await find_office(session=session, office=office)
    rows = (
        await session.exec(select(ClockRuleChoice).where(ClockRuleChoice.office_id == found.id))
    ).all()
    return sorted(rows, key=lambda r: (r.kind_code != ANY_KIND, r.kind_code))


async def set_office_time_zone(*, session: AsyncSession, office: str, zone: str) -> Office:
    """``office`` (id or code) counts its legal dates as days in ``zone`` (an IANA name) from
    its next dispatch on; deliveries already made keep the zone they were made in."""
    try:
        check_zone(zone)
    except ValueError as exc:
        raise InvalidRequest(
            str(exc), errors=[FieldError("zone", "an IANA time zone name")]
        ) from exc
    found = await find_office(session=session, office=office)
    found.time_zone = zone
    session.add(found)
    await session.flush()
    return found


def calendar_of(office: Office, *, at: datetime) -> Calendar | None:
    """The calendar of closed days of ``office`` around ``at`` (``None``: it has none)."""
    if office.calendar_country is None:
        return None
    return office_calendar(
        office_code=office.code,
        country=office.calendar_country,
        subdivision=office.calendar_subdivision,
        extra_closed=[date.fromisoformat(d) for d in office.closed_days or ()],
        around=at.astimezone(ZoneInfo(office.time_zone)).date(),
    )


async def set_office_calendar(
    *,
    session: AsyncSession,
    office: str,
    country: str | None = None,
    subdivision: str | None = None,
    close: list[date] | None = None,
    reopen: list[date] | None = None,
    remove: bool = False,
) -> Office:
    """``office`` (id or code) is closed on the public holidays of ``country`` (ISO 3166-1
    alpha-2) and ``subdivision``, and on its own extra days (``close`` adds, ``reopen``
    removes), from its next dispatch on; ``remove`` drops its calendar (nothing moves off
    closed days any more). Deliveries already made keep the calendar they were made with."""
    import holidays

    found = await find_office(session=session, office=office)
    if remove:
        if country or subdivision or close or reopen:
            raise InvalidRequest("--none takes no other option")
        found.calendar_country = found.calendar_subdivision = None
        found.closed_days = None
        session.add(found)
        await session.flush()
        return found
    if country is not None:
        code = country.strip().upper()
        supported = holidays.list_supported_countries()
        if code not in supported:
            raise InvalidRequest(
                f"No public holidays known for country {country!r} (an ISO 3166-1 alpha-2 "
                "code, e.g. DE)",
                errors=[FieldError("country", "an ISO 3166-1 alpha-2 code")],
            )
        if subdivision is not None and subdivision not in supported[code]:
            raise InvalidRequest(
                f"Country {code} has no subdivision {subdivision!r}; it has: "
                + ", ".join(supported[code]),
                errors=[FieldError("subdivision", "one of " + ", ".join(supported[code]))],
            )
        found.calendar_country, found.calendar_subdivision = code, subdivision
    elif subdivision is not None:
        raise InvalidRequest(
            "A subdivision needs its country", errors=[FieldError("country", "required")]
        )
    if (close or reopen) and found.calendar_country is None:
        raise InvalidRequest(
            "Set the office's country first: its closed days extend a country's calendar",
            errors=[FieldError("country", "required")],
        )
    days = set(found.closed_days or ()) | {d.isoformat() for d in close or ()}
    days -= {d.isoformat() for d in reopen or ()}
    found.closed_days = sorted(days)
    session.add(found)
    await session.flush()
    return found


@dataclass(frozen=True)
class OfficeClock:
    """What an office's legal clock follows: the office (its time zone and calendar) and its
    rule choices, the office-wide one first."""

    office: Office
    choices: list[ClockRuleChoice]


async def office_clock(
    services: Services,
    principal: Principal,
    *,
    office_code: str,
    rule_id: str | None = None,
    kind_code: str | None = None,
    zone: str | None = None,
) -> OfficeClock:
    """The office's clock as its dispatchers and auditors read it; with ``rule_id`` and/or
    ``zone``, its dispatchers change it first (one transaction). Who does not see the office
    is told it does not exist; its auditors may read but not change it."""
    async with services.db.write() as session:
        changing = rule_id is not None or zone is not None
        office = await office_seen_by(
            session=session,
            principal=principal,
            office=office_code,
            change="its legal clock" if changing else None,
        )
        if zone is not None:
            await set_office_time_zone(session=session, office=office.id, zone=zone)
        if rule_id is not None:
            await choose_clock_rule(
                session=session, office=office.id, rule_id=rule_id, kind_code=kind_code
            )
        return OfficeClock(office, await list_clock_rules(session=session, office=office.id))
