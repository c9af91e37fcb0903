"""The hubs' forwarding rules: per hub and transmission kind, forward at once (``automatic``,
also the answer for a kind without a rule) or hold until the hub's people forward it
(``check``). Read by the hub's receipt (:mod:`.forwarding`); changed by the hub's dispatchers
(the API) and by administrators (the CLI)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.errors import FieldError, InvalidRequest
from mailbox.formats.validation import PACKAGE_SCHEMA, schema
from mailbox.identity.admin import office_seen_by
from mailbox.identity.principal import Principal
from mailbox.models import ForwardingRule, ForwardMode, Office
from mailbox.services import Services

__all__ = [
    "HubRules",
    "forward_mode",
    "forwarding_rules",
    "hub_rules",
    "set_forwarding_rule",
    "transmission_kinds",
]


async def forward_mode(session: AsyncSession, hub_office_id: str, kind: str) -> ForwardMode:
    """What the hub does with a transmission of ``kind``: its rule, or automatic without one."""
    rule = (
        await session.exec(
            select(ForwardingRule).where(
                ForwardingRule.hub_office_id == hub_office_id, ForwardingRule.kind == kind
            )
        )
    ).one_or_none()
    return ForwardMode(rule.mode) if rule is not None else ForwardMode.AUTOMATIC


@dataclass(frozen=True)
class HubRules:
    """A hub's forwarding rules: the mode of each kind it has a rule for (others: automatic)."""

    office: Office
    rules: list[ForwardingRule]


def transmission_kinds() -> list[str]:
    """The kinds a transmission may be of (the package schema's)."""
    return list(schema(PACKAGE_SCHEMA)["properties"]["kind"]["enum"])


async def forwarding_rules(
    services: Services,
    principal: Principal,
    *,
    office_code: str,
    kind: str | None = None,
    mode: str | None = None,
) -> HubRules:
    """The office's forwarding rules as its dispatchers and auditors read them; with ``kind``
    and ``mode``, its dispatchers set the rule of that kind first (one transaction). Who does
    not see the office is told it does not exist; its auditors may read but not change."""
    async with services.db.write() as session:
        office = await office_seen_by(
            session=session,
            principal=principal,
            office=office_code,
            change="its forwarding rules" if kind is not None else None,
        )
        if kind is not None:
            await set_forwarding_rule(session=session, office=office, kind=kind, mode=mode)
        return await hub_rules(session=session, office=office)


async def hub_rules(*, session: AsyncSession, office: Office) -> HubRules:
    """The office's forwarding rules, by kind (no access check: the CLI's and the API's)."""
    rules = (
        await session.exec(
            select(ForwardingRule)
            .where(ForwardingRule.hub_office_id == office.id)
            .order_by(ForwardingRule.kind)
        )
    ).all()
    return HubRules(office, list(rules))


async def set_forwarding_rule(
    *, session: AsyncSession, office: Office, kind: str, mode: str | None
) -> None:
    """From now on the hub ``office`` handles transmissions of ``kind`` by ``mode``;
    :class:`InvalidRequest` naming an unknown kind or mode."""
    errors = []
    if kind not in transmission_kinds():
        errors.append(FieldError("kind", f"one of {', '.join(transmission_kinds())}"))
    if mode not in {m.value for m in ForwardMode}:
        errors.append(FieldError("mode", f"one of {', '.join(m.value for m in ForwardMode)}"))
    if errors:
        raise InvalidRequest("The forwarding rule is invalid", errors=errors)
    rule = (
        await session.exec(
            select(ForwardingRule).where(
                ForwardingRule.hub_office_id == office.id, ForwardingRule.kind == kind
            )
        )
    ).one_or_none() or ForwardingRule(hub_office_id=office.id, kind=kind)
    rule.mode, rule.changed_at = str(mode), now()
    session.add(rule)
    await session.flush()
