"""Which shipped rule of the legal clock each office follows, per document kind: read at
dispatch, set by the operator (``python -m mailbox office clock``). Functions take ``session``
and never commit."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.deliveries.legal_clock import (
    DEFAULT_RULE_ID,
    RULES,
    Rule,
    check_zone,
    rule_with_days,
)
from mailbox.errors import FieldError, InvalidRequest
from mailbox.identity.admin import find_office
from mailbox.models import ANY_KIND, ClockRuleChoice, Office

__all__ = [
    "choose_clock_rule",
    "clock_rule_for",
    "find_office",
    "list_clock_rules",
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
