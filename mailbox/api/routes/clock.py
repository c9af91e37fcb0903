"""The legal clock's API: the shipped rules, and the rule and time zone an office follows (read
by its dispatchers and auditors, chosen by its dispatchers)."""

from __future__ import annotations

from typing import Annotated

from litestar import get, put
from litestar.params import Parameter

from mailbox.api.problems import problem_responses
from mailbox.api.schemas.clock import (
    ClockRulePublic,
    ClockRulesPublic,
    OfficeClockChange,
    OfficeClockPublic,
)
from mailbox.deliveries.clock_rules import office_clock
from mailbox.deliveries.legal_clock import RULES
from mailbox.identity.principal import Principal
from mailbox.services import Services

__all__ = ["routes"]

TAGS = ["legal clock"]
PATH = "/api/v1/offices/{office_code:str}/clock"
OfficeCode = Annotated[str, Parameter(description="The office's code, e.g. EP.", max_length=16)]


@get(
    "/api/v1/clock-rules",
    tags=TAGS,
    summary="The shipped rules of the legal clock",
    responses=problem_responses(401),
)
async def clock_rules(principal: Principal) -> ClockRulesPublic:
    """Every rule an office may follow: its kind, its parameters and its legal source. A
    delivery records the rule (id and version) it was consigned under."""
    del principal  # anyone signed in
    return ClockRulesPublic([ClockRulePublic.of(rule) for rule in RULES.values()])


@get(
    PATH,
    tags=TAGS,
    summary="The rule of the legal clock an office follows, per document kind",
    responses=problem_responses(
        401,
        404,
        details={
            404: "No office with that code that you belong to.",
            422: "The office code is longer than 16 characters.",
        },
    ),
)
async def read_office_clock(
    office_code: OfficeCode, principal: Principal, services: Services
) -> OfficeClockPublic:
    """The office-wide rule (`*`), the rules of single document kinds, and the time zone in
    which its legal dates are days."""
    return OfficeClockPublic.of(await office_clock(services, principal, office_code=office_code))


@put(
    PATH,
    tags=TAGS,
    summary="Choose the rule of the legal clock, for every document kind or one",
    responses=problem_responses(
        400,
        401,
        403,
        404,
        415,
        details={
            403: "You see the office (an auditor) but only its dispatchers change this.",
            404: "No office with that code that you belong to.",
            422: "An unknown rule, kind code or time zone; `errors` names each.",
        },
    ),
)
async def change_office_clock(
    office_code: OfficeCode, data: OfficeClockChange, principal: Principal, services: Services
) -> OfficeClockPublic:
    """From the office's next dispatch on: documents of `kind_code` (every kind when left out)
    follow `rule_id`, and legal dates are days in `time_zone`. Deliveries already made keep
    the rule and zone they were made under (their evidence names them)."""
    return OfficeClockPublic.of(
        await office_clock(
            services,
            principal,
            office_code=office_code,
            rule_id=data.rule_id,
            kind_code=data.kind_code,
            zone=data.time_zone,
        )
    )


routes = [clock_rules, read_office_clock, change_office_clock]
