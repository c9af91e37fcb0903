"""The second factor of a person's log-in: a TOTP authenticator (RFC 6238, 30-second steps,
six digits, SHA-1: what every authenticator app reads from an ``otpauth://`` URI) and ten
one-time recovery codes.

- Enrolling: :func:`start_enrolment` keeps a new secret pending; :func:`confirm_enrolment`
  puts it in force with a first right code and returns the recovery codes, shown once and
  stored as their SHA-256 only.
- Logging in: :func:`second_factor_need` says what a person who gave the right password must
  still do (nothing, answer a code, or enrol first: dispatchers and auditors must have one, see
  :func:`mailbox.identity.policy.second_factor_required`); :func:`check_second_factor` takes a
  code or a recovery code.
- A code is accepted within one step either side of the service clock, and once: the step of
  the newest accepted code is kept, and a code of that step or an older one is refused. A
  recovery code is good once.
- Wrong codes are throttled per account, in the same database table as failed password
  log-ins (every process shares it) under a key of their own: after
  ``totp_failures_per_account`` of them within the login failure window, every code, even the
  right one, is refused with :class:`TooManyAttempts` until the window has passed.
- :func:`disable_second_factor` and :func:`regenerate_recovery_codes` need the current
  password or a code. Disabling forgets the secret, so that remembered devices (bound to the
  enrolment's id) are forgotten too.

Each public coroutine taking ``db`` is a use case and owns its transactions.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import pyotp
from sqlalchemy import or_, update
from sqlmodel import col, delete, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.config import Settings
from mailbox.db import Database
from mailbox.errors import (
    Conflict,
    FieldError,
    InvalidRequest,
    NotAuthenticated,
    TooManyAttempts,
)
from mailbox.identity.auth import verify_password
from mailbox.identity.policy import second_factor_required
from mailbox.identity.principal import load_principal
from mailbox.identity.throttle import clear_failures, record_failure, refused_for
from mailbox.models import RecoveryCode, User, UserTotp

__all__ = [
    "RECOVERY_CODES",
    "Enrolment",
    "Need",
    "SecondFactorLimits",
    "SecondFactorStatus",
    "check_second_factor",
    "confirm_enrolment",
    "disable_second_factor",
    "enrol_with_secret",
    "need_after_password",
    "pending_enrolment",
    "regenerate_recovery_codes",
    "remembered_device_valid",
    "reset_second_factor",
    "second_factor_key",
    "second_factor_need",
    "second_factor_status",
    "start_enrolment",
]

STEP_SECONDS = 30
DIGITS = 6
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a sheet
_RECOVERY_LENGTH = 16  # 16 characters of 32: 80 bits


class Need(StrEnum):
    """What a person who gave the right password must still do before they get a session."""

    NONE = "none"  # no second factor: the session starts now
    CODE = "code"  # answer a code of their authenticator, or a recovery code
    ENROL = "enrol"  # must have a second factor and has none: enrol first


@dataclass(frozen=True)
class SecondFactorLimits:
    """How many wrong codes an account may give within ``window`` before its codes are
    refused."""

    per_account: int
    window: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> SecondFactorLimits:
        return cls(
            per_account=settings.totp_failures_per_account,
            window=timedelta(seconds=settings.login_failure_window_seconds),
        )


@dataclass(frozen=True)
class Enrolment:
    """A pending secret: what the authenticator app is given (the URI, or the secret typed)."""

    secret: str
    uri: str


@dataclass(frozen=True)
class SecondFactorStatus:
    enabled: bool
    since: datetime | None
    recovery_codes_left: int


def second_factor_key(user_id: str) -> str:
    """The key wrong codes of user ``user_id`` are counted under (hashed, like log-in keys)."""
    return f"totp:{hashlib.sha256(user_id.encode()).hexdigest()}"


def _hash_recovery_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _normalise(code: str) -> str:
    return "".join(code.split()).replace("-", "").upper()


def _is_totp_code(code: str) -> bool:
    return len(code) == DIGITS and code.isascii() and code.isdigit()


def _current_step() -> int:
    return int(now().timestamp()) // STEP_SECONDS


def _matching_step(secret: str, code: str) -> int | None:
    """The time step (one either side of now) whose code ``code`` is, or None."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = _current_step()
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step).encode(), code.encode()):
            return step
    return None


async def _refuse_if_throttled(
    *, session: AsyncSession, user_id: str, limits: SecondFactorLimits
) -> None:
    wait = await refused_for(
        session=session,
        key=second_factor_key(user_id),
        limit=limits.per_account,
        window=limits.window,
    )
    if wait is not None:
        minutes = math.ceil(wait / 60)
        raise TooManyAttempts(
            f"Too many wrong codes. Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
            retry_after=wait,
        )


async def _count_failure(db: Database, user_id: str, limits: SecondFactorLimits) -> None:
    async with db.write() as session:
        await record_failure(
            session=session, keys=[second_factor_key(user_id)], window=limits.window
        )


async def _consume_step(*, session: AsyncSession, user_id: str, step: int) -> bool:
    """Mark ``step`` used if it is newer than the last one used (atomic: of two requests with
    the same code, one wins)."""
    result = await session.execute(
        update(UserTotp)
        .where(
            col(UserTotp.user_id) == user_id,
            col(UserTotp.confirmed_at).is_not(None),
            or_(col(UserTotp.last_used_step).is_(None), col(UserTotp.last_used_step) < step),
        )
        .values(last_used_step=step)
    )
    return result.rowcount == 1


async def _use_recovery_code(*, session: AsyncSession, user_id: str, code: str) -> bool:
    result = await session.execute(
        update(RecoveryCode)
        .where(
            col(RecoveryCode.user_id) == user_id,
            col(RecoveryCode.code_hash) == _hash_recovery_code(code),
            col(RecoveryCode.used_at).is_(None),
        )
        .values(used_at=now())
    )
    return result.rowcount == 1


async def _new_recovery_codes(*, session: AsyncSession, user_id: str) -> list[str]:
    """Replace the user's recovery codes with :data:`RECOVERY_CODES` new ones; return them
    (grouped by four for reading)."""
    await session.exec(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user_id))
    codes = [
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        for _ in range(RECOVERY_CODES)
    ]
    session.add_all(
        RecoveryCode(user_id=user_id, code_hash=_hash_recovery_code(code)) for code in codes
    )
    await session.flush()
    return ["-".join(code[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4)) for code in codes]


async def second_factor_need(*, session: AsyncSession, user_id: str) -> Need:
    """What user ``user_id``, who just gave their right password, must still do."""
    totp = await session.get(UserTotp, user_id)
    if totp is not None and totp.confirmed_at is not None:
        return Need.CODE
    if second_factor_required(await load_principal(session, user_id)):
        return Need.ENROL
    return Need.NONE


async def need_after_password(
    db: Database, user_id: str, *, remembered_enrolment: object = None
) -> Need:
    """What user ``user_id``, who just gave their right password, must still do; nothing
    when they answer codes and this device was remembered for their second factor in force
    (``remembered_enrolment``: the enrolment id the device's signed cookie names)."""
    async with db.session() as session:
        need = await second_factor_need(session=session, user_id=user_id)
        if need is Need.CODE and await remembered_device_valid(
            session=session, user_id=user_id, enrolment_id=remembered_enrolment
        ):
            return Need.NONE
        return need


async def second_factor_status(*, session: AsyncSession, user_id: str) -> SecondFactorStatus:
    totp = await session.get(UserTotp, user_id)
    if totp is None or totp.confirmed_at is None:
        return SecondFactorStatus(False, None, 0)
    left = await session.exec(
        select(func.count())
        .select_from(RecoveryCode)
        .where(col(RecoveryCode.user_id) == user_id, col(RecoveryCode.used_at).is_(None))
    )
    return SecondFactorStatus(True, totp.confirmed_at, int(left.one()))


async def pending_enrolment(*, session: AsyncSession, user_id: str) -> Enrolment | None:
    """The user's pending (not yet confirmed) enrolment, or None."""
    totp = await session.get(UserTotp, user_id)
    user = await session.get(User, user_id)
    if totp is None or totp.confirmed_at is not None or user is None:
        return None
    return Enrolment(totp.secret, _uri(totp.secret, user.email))


def _uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=email, issuer_name="Secure electronic delivery"
    )


async def start_enrolment(db: Database, user_id: str) -> Enrolment:
    """A pending secret for user ``user_id``: the one already pending, or a new one.
    :class:`Conflict` when a second factor is already in force (disable it first)."""
    async with db.write() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise NotAuthenticated("The user no longer exists")
        totp = await session.get(UserTotp, user_id)
        if totp is not None and totp.confirmed_at is not None:
            raise Conflict("Two-step log-in is already on; turn it off first to set it up again")
        if totp is None:
            totp = UserTotp(user_id=user_id, secret=pyotp.random_base32(length=32))
            session.add(totp)
        return Enrolment(totp.secret, _uri(totp.secret, user.email))


def _code_field(code: str, field: str = "code") -> str:
    code = "".join(code.split())
    if not _is_totp_code(code):
        raise InvalidRequest(
            "The code is invalid",
            errors=[FieldError(field, f"type the {DIGITS} digits your authenticator app shows")],
        )
    return code


async def confirm_enrolment(
    db: Database, limits: SecondFactorLimits, user_id: str, code: str
) -> list[str]:
    """Put the pending secret in force with a first right ``code``; return the new recovery
    codes (the only time they are shown). A wrong code is counted like a wrong log-in code."""
    code = _code_field(code)
    async with db.session() as session:
        await _refuse_if_throttled(session=session, user_id=user_id, limits=limits)
        pending = await session.get(UserTotp, user_id)
    if pending is None or pending.confirmed_at is not None:
        raise Conflict("There is no set-up of two-step log-in waiting for a first code")
    step = _matching_step(pending.secret, code)
    if step is None:
        await _count_failure(db, user_id, limits)
        raise NotAuthenticated("Wrong code: type the code your authenticator app shows now")
    async with db.write() as session:
        confirmed = await session.execute(
            update(UserTotp)
            .where(col(UserTotp.user_id) == user_id, col(UserTotp.confirmed_at).is_(None))
            .values(confirmed_at=now(), last_used_step=step)
        )
        if confirmed.rowcount != 1:
            raise Conflict("Two-step log-in was set up already")
        await clear_failures(session=session, key=second_factor_key(user_id))
        return await _new_recovery_codes(session=session, user_id=user_id)


async def check_second_factor(
    db: Database, limits: SecondFactorLimits, user_id: str, code: str
) -> str:
    """Accept ``code`` (a code of the user's authenticator, or one of their recovery codes)
    once, and return the id of the enrolment in force (what a remembered device is bound
    to). :class:`TooManyAttempts` while the account's codes are throttled (the code is not
    looked at); :class:`NotAuthenticated` for a wrong or used code, which is counted."""
    normalised = _normalise(code)
    async with db.session() as session:
        await _refuse_if_throttled(session=session, user_id=user_id, limits=limits)
        totp = await session.get(UserTotp, user_id)
    if totp is None or totp.confirmed_at is None:
        raise NotAuthenticated("This account has no two-step log-in")
    accepted = False
    async with db.write() as session:
        if _is_totp_code(normalised):
            step = _matching_step(totp.secret, normalised)
            accepted = step is not None and await _consume_step(
                session=session, user_id=user_id, step=step
            )
        elif normalised:
            accepted = await _use_recovery_code(session=session, user_id=user_id, code=normalised)
        if accepted:
            await clear_failures(session=session, key=second_factor_key(user_id))
    if not accepted:
        await _count_failure(db, user_id, limits)
        raise NotAuthenticated(
            "Wrong or already used code: type the code your authenticator app shows now, "
            "or one of your recovery codes"
        )
    return totp.id


async def _check_password_or_code(
    db: Database,
    limits: SecondFactorLimits,
    user_id: str,
    *,
    password: str,
    code: str,
) -> None:
    """Accept the user's current password or one of their codes, as a proof that it is them
    changing their second factor."""
    if not password and not code.strip():
        raise InvalidRequest(
            "Confirm with your password or a code",
            errors=[FieldError("password", "type your current password, or a code")],
        )
    if code.strip():
        await check_second_factor(db, limits, user_id, code)
        return
    async with db.session() as session:
        await _refuse_if_throttled(session=session, user_id=user_id, limits=limits)
        user = await session.get(User, user_id)
    ok = await asyncio.to_thread(verify_password, user.password_hash if user else None, password)
    if not ok:
        await _count_failure(db, user_id, limits)
        raise NotAuthenticated("Wrong password")


async def disable_second_factor(
    db: Database, limits: SecondFactorLimits, user_id: str, *, password: str = "", code: str = ""
) -> None:
    """Turn two-step log-in off (forgetting the secret, the recovery codes and so every
    remembered device), confirmed by the current ``password`` or a ``code``."""
    async with db.session() as session:
        status = await second_factor_status(session=session, user_id=user_id)
    if not status.enabled:
        raise Conflict("Two-step log-in is not on")
    await _check_password_or_code(db, limits, user_id, password=password, code=code)
    async with db.write() as session:
        await session.exec(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user_id))
        await session.exec(delete(UserTotp).where(col(UserTotp.user_id) == user_id))


async def regenerate_recovery_codes(
    db: Database, limits: SecondFactorLimits, user_id: str, *, password: str = "", code: str = ""
) -> list[str]:
    """New recovery codes in place of the old ones (all of which stop working), confirmed by
    the current ``password`` or a ``code``."""
    async with db.session() as session:
        status = await second_factor_status(session=session, user_id=user_id)
    if not status.enabled:
        raise Conflict("Two-step log-in is not on")
    await _check_password_or_code(db, limits, user_id, password=password, code=code)
    async with db.write() as session:
        return await _new_recovery_codes(session=session, user_id=user_id)


async def remembered_device_valid(
    *, session: AsyncSession, user_id: str, enrolment_id: object
) -> bool:
    """Whether a device remembered for enrolment ``enrolment_id`` of ``user_id`` still is: the
    same second factor is in force (turning it off or setting it up again forgets devices)."""
    totp = await session.get(UserTotp, user_id)
    return (
        totp is not None
        and totp.confirmed_at is not None
        and isinstance(enrolment_id, str)
        and hmac.compare_digest(totp.id.encode(), enrolment_id.encode())
    )


async def enrol_with_secret(*, session: AsyncSession, user_id: str, secret: str) -> None:
    """Put ``secret`` in force for ``user_id`` at once, without a first code and without
    recovery codes: for demo people whose secret is printed, never for real people."""
    pyotp.TOTP(secret).now()  # refuses what is not base32
    await session.exec(delete(UserTotp).where(col(UserTotp.user_id) == user_id))
    session.add(UserTotp(user_id=user_id, secret=secret, confirmed_at=now()))
    await session.flush()


async def reset_second_factor(*, session: AsyncSession, user_id: str) -> bool:
    """Forget the second factor of ``user_id`` (an administrator's answer to a lost phone and
    lost recovery codes): its secret, its recovery codes and so its remembered devices. True
    when there was one."""
    await session.exec(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user_id))
    found = await session.execute(delete(UserTotp).where(col(UserTotp.user_id) == user_id))
    return found.rowcount > 0
