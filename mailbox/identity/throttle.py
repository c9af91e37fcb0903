"""Throttling password log-ins, on the API's token endpoint and the log-in page alike.

Failed log-ins are counted per account (the email tried, normalised) and per client address
within a sliding window (settings ``login_failures_per_account``, ``login_failures_per_address``,
``login_failure_window_seconds``). Once a count reaches its limit, log-ins for that email or
from that address are refused with :class:`TooManyAttempts` until enough failures have left the
window, without looking at the password: even the right one is refused, and the answer does not
say whether it was right. A successful log-in clears its account's failures (not its
address's). The counts are rows in the database, so every process of one install shares them.

Keys are hashed: the table never holds the emails people typed, which may be someone else's or
a password typed into the wrong field.
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
from mailbox.db import Database
from mailbox.errors import NotAuthenticated, TooManyAttempts
from mailbox.identity.principal import authenticate_password
from mailbox.models import LoginFailure, User

__all__ = [
    "LoginLimits",
    "account_key",
    "address_key",
    "clear_failures",
    "log_in_with_password",
    "record_failure",
    "refused_for",
]

# Expired failures deleted per recorded failure: enough to keep up, bounded in cost.
PURGE_BATCH = 100


@dataclass(frozen=True)
class LoginLimits:
    """How many failures a key may have within ``window`` before its log-ins are refused."""

    per_account: int
    per_address: int
    window: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginLimits:
        return cls(
            per_account=settings.login_failures_per_account,
            per_address=settings.login_failures_per_address,
            window=timedelta(seconds=settings.login_failure_window_seconds),
        )


def _digest(kind: str, value: str) -> str:
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()}"


def account_key(email: str) -> str:
    """The key failed log-ins for ``email`` are counted under (normalised, hashed)."""
    return _digest("account", email.strip().lower())


def address_key(address: str | None) -> str:
    """The key failed log-ins from client ``address`` are counted under (hashed)."""
    return _digest("address", address or "unknown")


async def refused_for(
    *, session: AsyncSession, key: str, limit: int, window: timedelta
) -> int | None:
    """Seconds until ``key`` may try again, or None when it has fewer than ``limit`` failures
    in the last ``window``. The lock ends when the ``limit``-th newest failure leaves it."""
    moment = now()
    rows = await session.exec(
        select(LoginFailure.at)
        .where(LoginFailure.key == key, LoginFailure.at > moment - window)
        .order_by(col(LoginFailure.at).desc())
        .limit(limit)
    )
    recent: list[datetime] = list(rows.all())
    if len(recent) < limit:
        return None
    return max(1, math.ceil((recent[-1] + window - moment).total_seconds()))


async def record_failure(*, session: AsyncSession, keys: list[str], window: timedelta) -> None:
    """Count one failed log-in against each of ``keys``; forget a bounded batch of failures
    older than ``window`` on the way."""
    moment = now()
    stale = select(LoginFailure.id).where(LoginFailure.at <= moment - window).limit(PURGE_BATCH)
    await session.exec(delete(LoginFailure).where(col(LoginFailure.id).in_(stale)))
    session.add_all(LoginFailure(key=key, at=moment) for key in keys)
    await session.flush()


async def clear_failures(*, session: AsyncSession, key: str) -> None:
    """Forget the failures counted against ``key`` (after a successful log-in)."""
    await session.exec(delete(LoginFailure).where(LoginFailure.key == key))


async def log_in_with_password(
    db: Database, limits: LoginLimits, *, email: str, password: str, address: str | None
) -> User:
    """The user with ``email`` if ``password`` is theirs and neither the email nor the client
    ``address`` is locked out. :class:`TooManyAttempts` while locked out (the password is not
    checked); :class:`NotAuthenticated` for a wrong email or password, which is counted."""
    account = account_key(email)
    keys = {account: limits.per_account, address_key(address): limits.per_address}
    refusal: NotAuthenticated | None = None
    async with db.session() as session:
        waits = [
            await refused_for(session=session, key=key, limit=limit, window=limits.window)
            for key, limit in keys.items()
        ]
        retry_after = max((wait for wait in waits if wait is not None), default=None)
        if retry_after is not None:
            minutes = math.ceil(retry_after / 60)
            raise TooManyAttempts(
                "Too many failed log-in attempts. Try again in "
                f"{minutes} minute{'s' if minutes != 1 else ''}.",
                retry_after=retry_after,
            )
        try:
            user = await authenticate_password(session, email, password)
        except NotAuthenticated as exc:
            refusal = exc
        else:
            had_failures = await _has_failures(session=session, key=account)
    if refusal is not None:
        async with db.write() as session:
            await record_failure(session=session, keys=list(keys), window=limits.window)
        raise refusal
    if had_failures:
        async with db.write() as session:
            await clear_failures(session=session, key=account)
    return user


async def _has_failures(*, session: AsyncSession, key: str) -> bool:
    found = await session.exec(select(LoginFailure.id).where(LoginFailure.key == key).limit(1))
    return found.first() is not None
