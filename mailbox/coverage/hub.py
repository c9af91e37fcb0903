"""The use cases of a hub's people (the API and the pages call them): read the coverage report
(the hub's dispatchers and auditors), upload the list of expected items and send reminders
(its dispatchers). Each opens its own transaction and asks the access policy first, before
reading anything the caller sent: who does not see the hub is told it does not exist; its
auditors may read but not change.
"""

from __future__ import annotations

from datetime import date

from mailbox.clock import now
from mailbox.coverage.expected import (
    UploadCounts,
    list_format,
    read_expected_list,
    upload_expected,
)
from mailbox.coverage.reminders import ReminderRound, send_reminders
from mailbox.coverage.report import Coverage, coverage, period_of, sender_of
from mailbox.coverage.rule import local_day
from mailbox.identity.admin import office_seen_by
from mailbox.identity.principal import Principal
from mailbox.models import Office
from mailbox.services import Services

__all__ = ["hub_coverage", "hub_reminders", "hub_upload"]

# What the hub's dispatchers change and its auditors may not.
_CHANGES = "its expected items or send reminders"


def _today(hub: Office) -> date:
    return local_day(now(), hub.time_zone)


async def hub_coverage(
    services: Services,
    principal: Principal,
    *,
    office_code: str,
    period_from: str | None = None,
    period_to: str | None = None,
    sender: str | None = None,
) -> Coverage:
    """The hub's coverage report for the period named (``YYYY-MM-DD`` days; the current month
    without them), of one sending office or all."""
    async with services.db.session() as session:
        hub = await office_seen_by(session=session, principal=principal, office=office_code)
        first, last = period_of(period_from, period_to, today=_today(hub))
        return await coverage(
            session=session,
            hub=hub,
            period_from=first,
            period_to=last,
            sender=sender_of(sender),
            at=now(),
        )


async def hub_upload(
    services: Services, principal: Principal, *, office_code: str, body: bytes, media_type: str
) -> tuple[Office, UploadCounts]:
    """Save the list ``body`` (CSV or JSON lines, by ``media_type``) as what the hub expects:
    all of it, or nothing with one refusal naming every bad line. The hub, and what changed."""
    async with services.db.write() as session:
        hub = await office_seen_by(
            session=session, principal=principal, office=office_code, change=_CHANGES
        )
        rows = read_expected_list(body, list_format(media_type), today=_today(hub))
        return hub, await upload_expected(session=session, hub=hub, rows=rows)


async def hub_reminders(
    services: Services,
    principal: Principal,
    *,
    office_code: str,
    period_from: str | None = None,
    period_to: str | None = None,
    sender: str | None = None,
) -> tuple[Coverage, ReminderRound]:
    """Remind each sending office with late or missing items of the period (the current month
    without one) that were not reminded today; the report they were read from, and what was
    sent."""
    async with services.db.write() as session:
        hub = await office_seen_by(
            session=session, principal=principal, office=office_code, change=_CHANGES
        )
        first, last = period_of(period_from, period_to, today=_today(hub))
        at = now()
        report = await coverage(
            session=session,
            hub=hub,
            period_from=first,
            period_to=last,
            sender=sender_of(sender),
            at=at,
        )
        return report, await send_reminders(session=session, report=report, at=at)
