"""What people do to an account's notifications: the use cases behind the settings routes, the
settings pages and the webhook routes, one per action. Each checks access, makes its change in
ONE transaction (committed when it returns, rolled back when it raises) and returns what the
caller shows; the functions it calls take ``session`` and never commit.

The JSON API and the pages call the same use case for the same action, so they cannot drift.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.identity.accounts import account_for
from mailbox.identity.principal import Principal
from mailbox.models import Account, NotificationAddress, WebhookSubscription
from mailbox.notifications import settings, webhooks
from mailbox.notifications.settings import NotificationSettings
from mailbox.notifications.verify_limits import VerificationLimits
from mailbox.services import Services

__all__ = [
    "add_notification_address",
    "change_edelivery_consent",
    "change_notification_settings",
    "create_webhook",
    "delete_webhook",
    "remove_notification_address",
    "resend_verification_link",
    "rotate_webhook_secret",
    "verify_notification_address",
]


@asynccontextmanager
async def _as_owner(
    services: Services, principal: Principal, account_id: str
) -> AsyncIterator[tuple[AsyncSession, Account]]:
    """One write transaction on an account the principal owns (NotFound without a grant,
    PermissionDenied for an editor or viewer)."""
    async with services.db.write() as session:
        account = await account_for(
            session=session, principal=principal, account_id=account_id, manage=True
        )
        yield session, account


async def change_notification_settings(
    services: Services,
    principal: Principal,
    account_id: str,
    *,
    mode: str | None = None,
    reminder_days: Sequence[int] | None = None,
    language: str | None = None,
) -> NotificationSettings:
    """Change the alert mode, reminder schedule or language (``None``: unchanged)."""
    async with _as_owner(services, principal, account_id) as (session, account):
        await settings.update_settings(
            session=session,
            account=account,
            mode=mode,
            reminder_days=reminder_days,
            language=language,
        )
        return await settings.notification_settings(session=session, account=account)


async def change_edelivery_consent(
    services: Services, principal: Principal, account_id: str, *, given: bool
) -> NotificationSettings:
    """Consent to electronic delivery (ConsentGiven evidence) or withdraw it
    (ConsentWithdrawn)."""
    change = settings.give_consent if given else settings.withdraw_consent
    async with _as_owner(services, principal, account_id) as (session, account):
        await change(
            session=session, signer=services.evidence, account=account, actor=principal.actor
        )
        return await settings.notification_settings(session=session, account=account)


async def add_notification_address(
    services: Services, principal: Principal, account_id: str, email: str
) -> NotificationAddress:
    """Add an address; its verification link is queued in the same transaction."""
    async with _as_owner(services, principal, account_id) as (session, account):
        address, _token = await settings.add_address(
            session=session,
            account=account,
            email=email,
            limits=VerificationLimits.from_settings(services.settings),
        )
        return address


async def resend_verification_link(
    services: Services, principal: Principal, account_id: str, address_id: str
) -> NotificationAddress:
    """Send a new verification link to an unverified address (the earlier one stops working)."""
    async with _as_owner(services, principal, account_id) as (session, account):
        address, _token = await settings.resend_verification(
            session=session,
            account=account,
            address_id=address_id,
            limits=VerificationLimits.from_settings(services.settings),
        )
        return address


async def remove_notification_address(
    services: Services, principal: Principal, account_id: str, address_id: str
) -> None:
    """Remove an address (the last verified one ends electronic delivery)."""
    async with _as_owner(services, principal, account_id) as (session, account):
        await settings.remove_address(session=session, account=account, address_id=address_id)


async def verify_notification_address(
    services: Services, token: str
) -> tuple[NotificationAddress, Account]:
    """Open a verification link: no login, the token is the proof."""
    async with services.db.write() as session:
        return await settings.verify_address(session=session, token=token)


async def create_webhook(
    services: Services,
    principal: Principal,
    *,
    url: str,
    events: Sequence[str] = (),
    account_id: str | None = None,
    office_id: str | None = None,
) -> tuple[WebhookSubscription, str]:
    """Subscribe an account's (office's) delivery events; the secret is returned only here."""
    async with services.db.write() as session:
        return await webhooks.subscribe(
            session=session,
            principal=principal,
            url=url,
            events=events,
            account_id=account_id,
            office_id=office_id,
            allow_http_loopback=services.settings.webhook_allow_http_loopback,
            allow_private=services.settings.webhook_allow_private_targets,
        )


async def delete_webhook(services: Services, principal: Principal, subscription_id: str) -> None:
    """Stop a subscription (its attempts stay readable)."""
    async with services.db.write() as session:
        await webhooks.delete_subscription(
            session=session, principal=principal, subscription_id=subscription_id
        )


async def rotate_webhook_secret(
    services: Services, principal: Principal, subscription_id: str
) -> tuple[WebhookSubscription, str]:
    """A new secret for a subscription; the old one stops working at once."""
    async with services.db.write() as session:
        return await webhooks.rotate_secret(
            session=session, principal=principal, subscription_id=subscription_id
        )
