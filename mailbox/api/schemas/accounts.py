"""Request and response schemas of the account, notification-settings and webhook routes
(transport only; the rules are in mailbox.identity.accounts, mailbox.notifications.settings,
mailbox.notifications.webhooks).

Request fields are typed loosely (``str``, ``list[int]``) on purpose: the domain checks their
values and answers one 422 problem naming every bad field. Each request schema states those
rules for the OpenAPI document in ``__rules__`` (:mod:`mailbox.api.schemas.rules`), from the
domain's own constants.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from litestar.openapi.spec import OpenAPIType, Schema
from msgspec import UNSET, Meta, Struct, UnsetType, structs

from mailbox.api.schemas.rules import Rules
from mailbox.identity.accounts import AccountView, edelivery_status
from mailbox.identity.admin import EMAIL
from mailbox.identity.passwords import MIN_PASSWORD
from mailbox.models import Account, NotificationAddress, WebhookAttempt, WebhookSubscription
from mailbox.notifications.settings import (
    LANGUAGES,
    MAX_REMINDERS,
    MODES,
    REMINDER_DAYS_RANGE,
    NotificationSettings,
)
from mailbox.notifications.webhooks import EVENT_TYPES, MAX_URL_LENGTH
from mailbox.timefmt import rfc3339, rfc3339_or_none

__all__ = [
    "AccountPublic",
    "AccountsPublic",
    "AddressCreate",
    "AddressVerifiedPublic",
    "NotificationAddressPublic",
    "NotificationSettingsPatch",
    "NotificationSettingsPublic",
    "PasswordChange",
    "WebhookAttemptPublic",
    "WebhookAttemptsPublic",
    "WebhookCreate",
    "WebhookSecretPublic",
    "WebhookSubscriptionPublic",
    "WebhooksPublic",
]


EdeliveryStatusField = Annotated[
    str,
    Meta(
        description="active (consent and a verified address), inactive (documents go to "
        "paper) or suspended (notifications failed permanently; an owner re-enables by "
        "giving consent again).",
        examples=["active"],
    ),
]


class AccountPublic(Struct, kw_only=True):
    id: str
    name: str
    role: Annotated[str, Meta(description="Your strongest role: owner, editor or viewer.")]
    edelivery_status: EdeliveryStatusField
    edelivery_consent_at: str | None
    edelivery_suspended_reason: str | None

    @classmethod
    def of(cls, view: AccountView) -> AccountPublic:
        account = view.account
        return cls(
            id=account.id,
            name=account.name,
            role=view.role.value,
            edelivery_status=edelivery_status(account).value,
            edelivery_consent_at=rfc3339_or_none(account.edelivery_consent_at),
            edelivery_suspended_reason=account.edelivery_suspended_reason,
        )


class AccountsPublic(Struct):
    items: list[AccountPublic]
    next_cursor: str | None


class NotificationAddressPublic(Struct, kw_only=True):
    id: str
    email: str
    verified: bool
    verified_at: str | None
    verification_expires_at: Annotated[
        str | None, Meta(description="When the link sent to an unverified address expires.")
    ]
    created_at: str

    @classmethod
    def of(cls, address: NotificationAddress) -> NotificationAddressPublic:
        return cls(
            id=address.id,
            email=address.email,
            verified=address.verified_at is not None,
            verified_at=rfc3339_or_none(address.verified_at),
            verification_expires_at=rfc3339_or_none(address.verify_expires_at),
            created_at=rfc3339(address.created_at),
        )


class NotificationSettingsPublic(Struct, kw_only=True):
    account_id: str
    mode: Annotated[str, Meta(description="immediate (one email per delivery) or digest.")]
    reminder_days: Annotated[
        list[int] | None,
        Meta(description="Days after consignment to remind; null = the service default."),
    ]
    language: Annotated[str, Meta(examples=["en"])]
    edelivery_status: EdeliveryStatusField
    edelivery_consent_at: str | None
    edelivery_suspended_reason: str | None
    addresses: list[NotificationAddressPublic]

    @classmethod
    def of(cls, settings: NotificationSettings) -> NotificationSettingsPublic:
        account = settings.account
        return cls(
            account_id=account.id,
            mode=account.notify_mode,
            reminder_days=account.reminder_days,
            language=account.language,
            edelivery_status=edelivery_status(account).value,
            edelivery_consent_at=rfc3339_or_none(account.edelivery_consent_at),
            edelivery_suspended_reason=account.edelivery_suspended_reason,
            addresses=[NotificationAddressPublic.of(a) for a in settings.addresses],
        )


class NotificationSettingsPatch(Struct, kw_only=True, forbid_unknown_fields=True):
    """Only the fields given change."""

    mode: (
        Annotated[str, Meta(examples=["digest"], description="immediate or digest")] | UnsetType
    ) = UNSET
    reminder_days: (
        Annotated[list[int], Meta(examples=[[3, 7]], description="Up to 5 days, each 1..60.")]
        | UnsetType
    ) = UNSET
    language: Annotated[str, Meta(examples=["fr"], description="en or fr")] | UnsetType = UNSET

    __rules__: ClassVar[Rules] = Rules(
        closed=True,
        fields={
            "mode": {"enum": list(MODES)},
            "reminder_days": {
                "max_items": MAX_REMINDERS,
                "items": Schema(
                    type=OpenAPIType.INTEGER,
                    minimum=REMINDER_DAYS_RANGE.start,
                    maximum=REMINDER_DAYS_RANGE.stop - 1,
                ),
            },
            "language": {"enum": list(LANGUAGES)},
        },
    )


class AddressCreate(Struct, kw_only=True, forbid_unknown_fields=True):
    email: Annotated[str, Meta(examples=["patents@example.com"])]

    __rules__: ClassVar[Rules] = Rules(
        closed=True,
        fields={"email": {"max_length": 320, "pattern": EMAIL.pattern}},
    )


class AddressVerifiedPublic(Struct, kw_only=True):
    address_id: str
    account_id: str
    email: str
    verified_at: str
    edelivery_status: EdeliveryStatusField

    @classmethod
    def of(cls, address: NotificationAddress, account: Account) -> AddressVerifiedPublic:
        assert address.verified_at is not None
        return cls(
            address_id=address.id,
            account_id=account.id,
            email=address.email,
            verified_at=rfc3339(address.verified_at),
            edelivery_status=edelivery_status(account).value,
        )


class PasswordChange(Struct, kw_only=True, forbid_unknown_fields=True):
    """The current password proves it is you; the new one follows the password rule."""

    current_password: str
    new_password: Annotated[
        str,
        Meta(
            description=f"At least {MIN_PASSWORD} characters, not a common or breached "
            "password, not containing your email address.",
        ),
    ]

    __rules__: ClassVar[Rules] = Rules(
        closed=True,
        required=("current_password", "new_password"),
        fields={"new_password": {"min_length": MIN_PASSWORD}},
    )


# An https:// URL with a host, an optional port, path and query; no credentials, no fragment,
# no spaces (the rules of mailbox.notifications.webhooks.check_url, written as one pattern).
_WEBHOOK_URL = (
    r"^https://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,4})?"
    r"(/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?(\?[A-Za-z0-9._~%!$&'()*+,;=:@/?-]*)?$"
)


class WebhookCreate(Struct, kw_only=True, forbid_unknown_fields=True):
    """Exactly one of ``account_id`` and ``office_id``."""

    url: Annotated[str, Meta(examples=["https://patents.example.com/hooks/mailbox"])]
    account_id: str | UnsetType = UNSET
    office_id: str | UnsetType = UNSET
    events: Annotated[
        list[str],
        Meta(
            examples=[["delivery.available", "delivery.picked_up"]],
            description="Event types to receive; empty for all of them.",
        ),
    ] = []

    __rules__: ClassVar[Rules] = Rules(
        closed=True,
        fields={
            "url": {
                "max_length": MAX_URL_LENGTH,
                "pattern": _WEBHOOK_URL,
                "description": "https:// only, without credentials or #fragment (a test "
                "setting also allows http:// to 127.0.0.1 or localhost).",
            },
            "events": {"items": Schema(type=OpenAPIType.STRING, enum=list(EVENT_TYPES))},
        },
        one_of=(Schema(required=["account_id"]), Schema(required=["office_id"])),
    )

    def owner(self) -> tuple[str | None, str | None]:
        """The account id and the office id given (``None`` for the one left out)."""
        return (
            None if isinstance(self.account_id, UnsetType) else self.account_id,
            None if isinstance(self.office_id, UnsetType) else self.office_id,
        )


class WebhookSubscriptionPublic(Struct, kw_only=True):
    id: str
    account_id: str | None
    office_id: str | None
    url: str
    events: Annotated[list[str], Meta(description="Empty: every event type.")]
    active: bool
    created_at: str

    @classmethod
    def of(cls, subscription: WebhookSubscription) -> WebhookSubscriptionPublic:
        return WebhookSubscriptionPublic(
            id=subscription.id,
            account_id=subscription.account_id,
            office_id=subscription.office_id,
            url=subscription.url,
            events=list(subscription.events),
            active=subscription.active,
            created_at=rfc3339(subscription.created_at),
        )


class WebhookSecretPublic(WebhookSubscriptionPublic, kw_only=True):
    """A subscription with its signing secret: shown only when created or rotated."""

    secret: Annotated[
        str,
        Meta(
            description="HMAC-SHA256 key of the Mailbox-Signature header. Shown only now: "
            "store it; lists never show it."
        ),
    ]

    @classmethod
    def with_secret(cls, subscription: WebhookSubscription, secret: str) -> WebhookSecretPublic:
        public = WebhookSubscriptionPublic.of(subscription)
        return cls(**structs.asdict(public), secret=secret)


class WebhooksPublic(Struct):
    items: list[WebhookSubscriptionPublic]
    next_cursor: str | None


class WebhookAttemptPublic(Struct, kw_only=True):
    id: str
    outbox_id: Annotated[str, Meta(description="The event message this attempt posted.")]
    event_type: str
    attempted_at: str
    ok: bool
    status_code: Annotated[int | None, Meta(description="HTTP status answered, if any.")]
    detail: str

    @classmethod
    def of(cls, attempt: WebhookAttempt) -> WebhookAttemptPublic:
        return cls(
            id=attempt.id,
            outbox_id=attempt.outbox_id,
            event_type=attempt.event_type,
            attempted_at=rfc3339(attempt.attempted_at),
            ok=attempt.ok,
            status_code=attempt.status_code,
            detail=attempt.detail,
        )


class WebhookAttemptsPublic(Struct):
    items: list[WebhookAttemptPublic]
    next_cursor: str | None
