"""Notification settings of an account: the email addresses that receive its alerts (each
verified by a link before use), immediate alerts or a daily digest, the reminder schedule, the
language of the emails, and consent to electronic delivery.

Electronic delivery is active once the account has consent and at least one verified address
(:func:`mailbox.identity.admin.refresh_edelivery`). Verifying the first address therefore turns it
on,
and removing the last verified one, or withdrawing consent, turns it off: later dispatches go to
paper. A suspension after permanent notification failures is not lifted by verifying an
address; an owner lifts it by giving consent again (:func:`give_consent`), after fixing the
addresses.

Callers check access first (:func:`mailbox.identity.accounts.account_for`). Functions take
``session``
keyword-only and never commit.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.errors import Conflict, FieldError, InvalidRequest, NotFound
from mailbox.evidence import log as evidence
from mailbox.evidence.log import EvidenceDraft, EvidenceType
from mailbox.identity.accounts import account_for
from mailbox.identity.admin import EMAIL, refresh_edelivery
from mailbox.identity.principal import Principal
from mailbox.models import Account, NotificationAddress, OutboxKind, OutboxMessage
from mailbox.notifications.verify_limits import VerificationLimits, count_verification_email
from mailbox.signing.records import EvidenceSigner
from mailbox.timefmt import rfc3339

__all__ = [
    "LANGUAGES",
    "MODES",
    "VERIFY_PATH",
    "NotificationSettings",
    "add_address",
    "give_consent",
    "notification_settings",
    "read_notification_settings",
    "remove_address",
    "resend_verification",
    "update_settings",
    "verification_link",
    "verify_address",
    "withdraw_consent",
]

MODES = ("immediate", "digest")
# The languages the email templates exist in (templates/email/<language>/).
LANGUAGES = ("en", "fr")
MAX_REMINDERS = 5
REMINDER_DAYS_RANGE = range(1, 61)
MAX_ADDRESSES = 10
VERIFY_TTL = timedelta(hours=48)
VERIFY_PATH = "/api/v1/notification-addresses/verify"


@dataclass(frozen=True)
class NotificationSettings:
    """An account's settings as read: the account row and its addresses, oldest first."""

    account: Account
    addresses: list[NotificationAddress]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def verification_link(public_base_url: str, token: str) -> str:
    """The link sent to a new address; opening it verifies the address."""
    return f"{public_base_url.rstrip('/')}{VERIFY_PATH}?token={quote(token)}"


async def notification_settings(*, session: AsyncSession, account: Account) -> NotificationSettings:
    """The account's settings and addresses."""
    addresses = await session.exec(
        select(NotificationAddress)
        .where(NotificationAddress.account_id == account.id)
        .order_by(col(NotificationAddress.created_at), col(NotificationAddress.id))
    )
    return NotificationSettings(account, list(addresses.all()))


async def read_notification_settings(
    *, session: AsyncSession, principal: Principal, account_id: str
) -> NotificationSettings:
    """The settings of an account the principal holds any grant on (NotFound otherwise)."""
    account = await account_for(session=session, principal=principal, account_id=account_id)
    return await notification_settings(session=session, account=account)


async def update_settings(
    *,
    session: AsyncSession,
    account: Account,
    mode: str | None = None,
    reminder_days: Sequence[int] | None = None,
    language: str | None = None,
) -> Account:
    """Change what is given (``None`` leaves a setting as it is). Every bad field is reported
    at once and nothing changes. Reminder days are kept sorted without repeats."""
    errors = []
    if mode is not None and mode not in MODES:
        errors.append(FieldError("mode", f"must be one of {', '.join(MODES)}"))
    if reminder_days is not None:
        if len(reminder_days) > MAX_REMINDERS:
            errors.append(FieldError("reminder_days", f"at most {MAX_REMINDERS} reminders"))
        bad = [d for d in reminder_days if not isinstance(d, int) or d not in REMINDER_DAYS_RANGE]
        if bad:
            errors.append(FieldError("reminder_days", f"each day must be 1..60; got {bad}"))
    if language is not None and language not in LANGUAGES:
        errors.append(FieldError("language", f"must be one of {', '.join(LANGUAGES)}"))
    if errors:
        raise InvalidRequest("The notification settings are invalid", errors=errors)
    if mode is not None:
        account.notify_mode = mode
    if reminder_days is not None:
        account.reminder_days = sorted(set(reminder_days))
    if language is not None:
        account.language = language
    session.add(account)
    await session.flush()
    return account


def _issue_verification(session: AsyncSession, address: NotificationAddress) -> str:
    """Give the address a fresh link (replacing any earlier one) and queue the email."""
    token = secrets.token_urlsafe(32)
    address.verify_token_hash = _token_hash(token)
    address.verify_expires_at = now() + VERIFY_TTL
    session.add(address)
    session.add(
        OutboxMessage(
            kind=OutboxKind.EMAIL_VERIFY_ADDRESS,
            account_id=address.account_id,
            payload={
                "address_id": address.id,
                "email": address.email,
                "token": token,
                "expires_at": rfc3339(address.verify_expires_at),
            },
        )
    )
    return token


async def add_address(
    *,
    session: AsyncSession,
    account: Account,
    email: str,
    limits: VerificationLimits | None = None,
) -> tuple[NotificationAddress, str]:
    """Add an unverified address and queue the email with its verification link (valid 48 h).
    Return the address and the link's token (only its SHA-256 is stored). With ``limits``
    (every request of a user), :class:`TooManyAttempts` once the address or the account has
    had its verification emails for a while."""
    email = email.strip().lower()
    if len(email) > 320 or not EMAIL.match(email):
        raise InvalidRequest(
            "Not an email address", errors=[FieldError("email", "not an email address")]
        )
    existing = (
        await session.exec(
            select(NotificationAddress).where(NotificationAddress.account_id == account.id)
        )
    ).all()
    if any(a.email == email for a in existing):
        raise Conflict(
            f"{email} is already an address of this account; to get a new link for an "
            "unverified one, ask to resend its verification"
        )
    if len(existing) >= MAX_ADDRESSES:
        raise Conflict(f"An account has at most {MAX_ADDRESSES} notification addresses")
    if limits is not None:
        await count_verification_email(
            session=session, limits=limits, email=email, account_id=account.id
        )
    address = NotificationAddress(account_id=account.id, email=email)
    session.add(address)
    try:
        await session.flush()
    except IntegrityError:  # the same address added concurrently
        raise Conflict(f"{email} is already an address of this account") from None
    return address, _issue_verification(session, address)


async def _address_of(
    session: AsyncSession, account: Account, address_id: str
) -> NotificationAddress:
    address = await session.get(NotificationAddress, address_id)
    if address is None or address.account_id != account.id:
        raise NotFound(f"No notification address {address_id} on account {account.id}")
    return address


async def resend_verification(
    *,
    session: AsyncSession,
    account: Account,
    address_id: str,
    limits: VerificationLimits | None = None,
) -> tuple[NotificationAddress, str]:
    """Send a new link to an unverified address; the earlier link stops working. With
    ``limits``, :class:`TooManyAttempts` (and no email) once the address or the account has
    had its verification emails for a while."""
    address = await _address_of(session, account, address_id)
    if address.verified_at is not None:
        raise Conflict(f"{address.email} is already verified")
    if limits is not None:
        await count_verification_email(
            session=session, limits=limits, email=address.email, account_id=account.id
        )
    token = _issue_verification(session, address)
    await session.flush()
    return address, token


async def verify_address(
    *, session: AsyncSession, token: str
) -> tuple[NotificationAddress, Account]:
    """Mark the address whose link carries ``token`` as verified and recompute electronic
    delivery. An unknown or used link is :class:`NotFound`; an expired one is
    :class:`InvalidRequest` (the owner asks for a new link)."""
    address = (
        await session.exec(
            select(NotificationAddress).where(
                NotificationAddress.verify_token_hash == _token_hash(token)
            )
        )
    ).one_or_none()
    if address is None:
        raise NotFound(
            "This verification link is not valid: it is unknown, or it was already used",
            errors=[FieldError("token", "unknown or already used")],
        )
    expires_at = address.verify_expires_at
    if expires_at is None or expires_at <= now():
        raise InvalidRequest(
            "This verification link has expired; ask for a new one in the account's "
            "notification settings",
            errors=[FieldError("token", "expired")],
        )
    address.verified_at = now()
    address.verify_token_hash = None
    address.verify_expires_at = None
    session.add(address)
    account = await session.get(Account, address.account_id)
    assert account is not None  # a foreign key holds it
    await session.flush()
    await refresh_edelivery(session=session, account=account)
    await session.flush()
    return address, account


async def remove_address(*, session: AsyncSession, account: Account, address_id: str) -> None:
    """Remove an address. Removing the last verified one ends electronic delivery: later
    dispatches go to paper until another address is verified."""
    address = await _address_of(session, account, address_id)
    await session.delete(address)
    await session.flush()
    await refresh_edelivery(session=session, account=account)
    await session.flush()


async def give_consent(
    *, session: AsyncSession, signer: EvidenceSigner, account: Account, actor: str
) -> Account:
    """Consent to electronic delivery (recorded as ConsentGiven evidence). Given again, it
    keeps the first consent time and lifts a suspension, which is how an owner re-enables
    electronic delivery after fixing the addresses. Without anything to change, nothing is
    recorded."""
    lifted = account.edelivery_suspended_reason
    if account.edelivery_consent_at is not None and lifted is None:
        return account
    at = now()
    if account.edelivery_consent_at is None:
        account.edelivery_consent_at = at
    account.edelivery_suspended_reason = None
    await refresh_edelivery(session=session, account=account)
    details = {"account_id": account.id, "edelivery_active": account.edelivery_active}
    if lifted is not None:
        details["lifted_suspension"] = lifted
    await evidence.append(
        session,
        signer,
        EvidenceDraft(EvidenceType.CONSENT_GIVEN, actor, details=details),
        delivery_id=None,
        at=at,
    )
    return account


async def withdraw_consent(
    *, session: AsyncSession, signer: EvidenceSigner, account: Account, actor: str
) -> Account:
    """Withdraw consent (recorded as ConsentWithdrawn evidence): later dispatches go to paper.
    Deliveries already made available stay in the mailbox."""
    if account.edelivery_consent_at is None:
        return account
    account.edelivery_consent_at = None
    await refresh_edelivery(session=session, account=account)
    await evidence.append(
        session,
        signer,
        EvidenceDraft(EvidenceType.CONSENT_WITHDRAWN, actor, details={"account_id": account.id}),
        delivery_id=None,
    )
    return account
