"""Throttling address-verification emails, so that nobody can use the service to bomb an
inbox with them.

Every verification email queued (an address added, or its link resent) is counted against the
address it goes to (whichever account asked) and against the account that asked, within a
sliding window (settings ``verification_emails_per_address``, ``verification_emails_per_account``,
``verification_email_window_seconds``). Once a count reaches its limit, further emails for that
address or from that account are refused with :class:`TooManyAttempts` until enough have left
the window. The counts are rows in the database, written in the transaction that queues the
email, so every process of one install shares them and a refused request writes nothing.
Keys are hashed, like the log-in throttle's (:mod:`mailbox.identity.throttle`).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.config import Settings
from mailbox.errors import TooManyAttempts
from mailbox.models import VerificationEmailSent

__all__ = ["VerificationLimits", "count_verification_email"]

# Expired counts deleted per email queued: enough to keep up, bounded in cost.
PURGE_BATCH = 100


@dataclass(frozen=True)
class VerificationLimits:
    """How many verification emails an address, and an account, may get within ``window``."""

    per_address: int
    per_account: int
    window: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> VerificationLimits:
        return cls(
            per_address=settings.verification_emails_per_address,
            per_account=settings.verification_emails_per_account,
            window=timedelta(seconds=settings.verification_email_window_seconds),
        )


def _key(kind: str, value: str) -> str:
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()}"


async def _wait(
    session: AsyncSession, key: str, limit: int, window: timedelta, moment: datetime
) -> int | None:
    """Seconds until ``key`` may have another email, or None when it is under its limit."""
    rows = await session.exec(
        select(VerificationEmailSent.at)
        .where(VerificationEmailSent.key == key, VerificationEmailSent.at > moment - window)
        .order_by(col(VerificationEmailSent.at).desc())
        .limit(limit)
    )
    recent = list(rows.all())
    if len(recent) < limit:
        return None
    return max(1, math.ceil((recent[-1] + window - moment).total_seconds()))


async def count_verification_email(
    *, session: AsyncSession, limits: VerificationLimits, email: str, account_id: str
) -> None:
    """Count one verification email to ``email`` asked for by ``account_id``, or raise
    :class:`TooManyAttempts` (nothing counted) when either has had its limit in the window."""
    moment = now()
    keys = {
        _key("address", email.strip().lower()): limits.per_address,
        _key("account", account_id): limits.per_account,
    }
    waits = [await _wait(session, key, limit, limits.window, moment) for key, limit in keys.items()]
    retry_after = max((wait for wait in waits if wait is not None), default=None)
    if retry_after is not None:
        minutes = math.ceil(retry_after / 60)
        raise TooManyAttempts(
            "Too many verification emails were sent to this address or for this account "
            f"lately; no email was sent. Try again in {minutes} minute"
            f"{'s' if minutes != 1 else ''}.",
            retry_after=retry_after,
        )
    stale = (
        select(VerificationEmailSent.id)
        .where(col(VerificationEmailSent.at) <= moment - limits.window)
        .limit(PURGE_BATCH)
    )
    await session.exec(
        delete(VerificationEmailSent).where(col(VerificationEmailSent.id).in_(stale))
    )
    session.add_all(VerificationEmailSent(key=key, at=moment) for key in keys)
    await session.flush()
