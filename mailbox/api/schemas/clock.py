"""Schemas of the legal clock's API: the shipped rules, and an office's choice among them."""

from __future__ import annotations

from typing import Annotated, ClassVar

from msgspec import Meta, Struct

from mailbox.api.schemas.rules import Rules
from mailbox.deliveries.clock_rules import OfficeClock
from mailbox.deliveries.legal_clock import DEFAULT_RULE_ID, Rule

__all__ = ["ClockRulePublic", "ClockRulesPublic", "OfficeClockChange", "OfficeClockPublic"]


class ClockRulePublic(Struct, kw_only=True):
    """A shipped rule of the legal clock: its kind and parameters, and its legal source."""

    id: str
    version: int
    kind: str
    days: int
    closed_day_moves: bool
    outage_extends: bool
    source: str

    @classmethod
    def of(cls, rule: Rule) -> ClockRulePublic:
        return cls(
            id=rule.id,
            version=rule.version,
            kind=rule.kind,
            days=rule.days,
            closed_day_moves=rule.closed_day_moves,
            outage_extends=rule.outage_extends,
            source=rule.source,
        )


class ClockRulesPublic(Struct):
    items: list[ClockRulePublic]
    default_rule: str = DEFAULT_RULE_ID


class ClockChoicePublic(Struct, kw_only=True):
    """``kind_code`` ``*``: every kind without a choice of its own."""

    kind_code: str
    rule_id: str


class OfficeClockPublic(Struct, kw_only=True):
    """The rule of the legal clock an office follows per document kind, and its time zone."""

    office_code: str
    time_zone: str
    default_rule: str
    choices: list[ClockChoicePublic]

    @classmethod
    def of(cls, clock: OfficeClock) -> OfficeClockPublic:
        return cls(
            office_code=clock.office.code,
            time_zone=clock.office.time_zone,
            default_rule=DEFAULT_RULE_ID,
            choices=[
                ClockChoicePublic(kind_code=c.kind_code, rule_id=c.rule_id) for c in clock.choices
            ],
        )


class OfficeClockChange(Struct, kw_only=True, forbid_unknown_fields=True):
    """Follow ``rule_id`` for documents of ``kind_code`` (every kind when left out) and/or count
    legal dates in ``time_zone``, from the office's next dispatch on."""

    rule_id: Annotated[str | None, Meta(examples=["epo-2023-v1"])] = None
    kind_code: Annotated[str | None, Meta(examples=["R71"])] = None
    time_zone: Annotated[str | None, Meta(examples=["Europe/Berlin"])] = None

    __rules__: ClassVar[Rules] = Rules(
        closed=True,
        fields={
            "rule_id": {"max_length": 64},
            "kind_code": {"max_length": 32},
            "time_zone": {"max_length": 64},
        },
    )
