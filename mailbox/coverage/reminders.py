"""Reminders to the sending offices that are behind: for a hub and a period, one email to each
sending office with late or missing items not yet reminded today (a day in the hub's zone),
listing them; written as an outbox row (``email.coverage_reminder``) that the email channel
composes and sends to the verified notification addresses of the office's mailbox account.

An office that cannot be reminded (no office with that code, no mailbox, no verified address)
is named in the answer and nothing is sent to it. Our mail server failing makes the message
wait and retry in the outbox; it never counts against the office.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.coverage.report import Coverage, CoverageItem
from mailbox.coverage.rule import ItemClass, day_start
from mailbox.errors import Conflict
from mailbox.models import (
    Account,
    ExpectedItem,
    NotificationAddress,
    Office,
    OutboxKind,
    OutboxMessage,
)

__all__ = ["REMINDED_CLASSES", "Reminded", "ReminderRound", "Unreachable", "send_reminders"]

# The classes a reminder is about.
REMINDED_CLASSES = (ItemClass.LATE, ItemClass.MISSING)


@dataclass(frozen=True)
class Reminded:
    """One reminder written to the outbox: to which office, about how many items."""

    sender: str
    items: int
    outbox_id: str
    recipients: int


@dataclass(frozen=True)
class Unreachable:
    """A sending office with late or missing items that cannot be reminded, and why."""

    sender: str
    items: int
    reason: str


@dataclass(frozen=True)
class ReminderRound:
    """What one call did: the reminders sent, the offices that cannot be reminded, and the
    offices whose items were all reminded earlier the same day (nothing new to send)."""

    sent: list[Reminded]
    cannot_be_reminded: list[Unreachable]
    already_reminded_today: list[str]


async def send_reminders(*, session: AsyncSession, report: Coverage, at: datetime) -> ReminderRound:
    """Write one reminder per sending office of ``report`` with late or missing items not
    reminded on the day of ``at`` (in the hub's zone), and mark those items reminded."""
    hub = report.hub
    today_start = day_start(report.today, hub.time_zone)
    owed: dict[str, list[CoverageItem]] = {}
    reminded_today: set[str] = set()
    for item in report.items:
        if item.status not in REMINDED_CLASSES:
            continue
        if item.reminded_at is not None and item.reminded_at >= today_start:
            reminded_today.add(item.sender)
        else:
            owed.setdefault(item.sender, []).append(item)
    reachable = await _reachable(session, sorted(owed))
    sent: list[Reminded] = []
    unreachable: list[Unreachable] = []
    for code, items in sorted(owed.items()):
        found = reachable.get(code)
        if isinstance(found, str):
            unreachable.append(Unreachable(code, len(items), found))
            continue
        account, recipients = found
        # Claim the items: a call running at the same time claims none of them again.
        claimed = await session.exec(  # type: ignore[call-overload]
            update(ExpectedItem)
            .where(col(ExpectedItem.id).in_([item.id for item in items]))
            .where(
                or_(
                    col(ExpectedItem.reminded_at).is_(None),
                    col(ExpectedItem.reminded_at) < today_start,
                )
            )
            .values(reminded_at=at)
        )
        if claimed.rowcount != len(items):
            raise Conflict(f"Reminders to {code} are being sent right now; try again")
        message = OutboxMessage(
            kind=OutboxKind.EMAIL_COVERAGE_REMINDER,
            account_id=account.id,
            payload=_payload(report, code, items),
            next_attempt_at=at,
            created_at=at,
        )
        session.add(message)
        sent.append(Reminded(code, len(items), message.id, recipients))
    await session.flush()
    return ReminderRound(sent, unreachable, sorted(reminded_today - set(owed)))


def _payload(report: Coverage, sender: str, items: Sequence[CoverageItem]) -> dict:
    return {
        "hub_code": report.hub.code,
        "hub_name": report.hub.name,
        "sender": sender,
        "from": report.period_from.isoformat(),
        "to": report.period_to.isoformat(),
        "items": [
            {
                "international_application_number": item.international_application_number,
                "kind": item.kind,
                "due_on": item.due_on.isoformat(),
                "status": item.status.value,
            }
            for item in items
        ],
    }


async def _reachable(
    session: AsyncSession, codes: list[str]
) -> dict[str, tuple[Account, int] | str]:
    """For each office code: its mailbox account and its number of verified addresses, or
    why it cannot be reminded."""
    if not codes:
        return {}
    found: dict[str, tuple[Account, int] | str] = dict.fromkeys(codes, "no office with this code")
    rows = await session.exec(
        select(Office, Account)
        .join(Account, col(Account.office_id) == col(Office.id), isouter=True)
        .where(col(Office.code).in_(codes))
    )
    accounts: dict[str, tuple[str, Account]] = {}
    for office, account in rows.all():
        if account is None:
            found[office.code] = "the office has no mailbox"
        else:
            accounts[account.id] = (office.code, account)
    counts: dict[str, int] = {}
    if accounts:
        verified = await session.exec(
            select(NotificationAddress.account_id)
            .where(col(NotificationAddress.account_id).in_(sorted(accounts)))
            .where(col(NotificationAddress.verified_at).is_not(None))
        )
        for account_id in verified.all():
            counts[account_id] = counts.get(account_id, 0) + 1
    for account_id, (code, account) in accounts.items():
        n = counts.get(account_id, 0)
        found[code] = (
            (account, n) if n else "the office's mailbox has no verified notification address"
        )
    return found
