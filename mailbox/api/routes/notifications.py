"""Account holders: their accounts, and each account's notification settings, addresses and
consent to electronic delivery; plus the link that verifies a new address (no login needed).

Any grant on an account reads its settings; only its owners change them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from litestar import Request, Response, delete, get, patch, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.params import Parameter
from litestar.response import Template
from msgspec import UnsetType
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.api.problems import problem_responses
from mailbox.api.schemas.accounts import (
    AccountPublic,
    AccountsPublic,
    AddressCreate,
    AddressVerifiedPublic,
    NotificationAddressPublic,
    NotificationSettingsPatch,
    NotificationSettingsPublic,
)
from mailbox.api.schemas.deliveries import CursorParam, LimitParam
from mailbox.errors import MailboxError
from mailbox.identity.accounts import list_accounts
from mailbox.identity.principal import Principal
from mailbox.notifications.actions import (
    add_notification_address,
    change_edelivery_consent,
    change_notification_settings,
    remove_notification_address,
    resend_verification_link,
    verify_notification_address,
)
from mailbox.notifications.settings import read_notification_settings
from mailbox.services import Services

__all__ = ["routes"]

TAGS = ["notification settings"]
SETTINGS = "/api/v1/accounts/{account_id:str}"
T = TypeVar("T")


def _given(value: T | UnsetType) -> T | None:
    return None if isinstance(value, UnsetType) else value


@get(
    "/api/v1/accounts",
    tags=["accounts"],
    summary="The accounts you hold a grant on",
    responses=problem_responses(401, 422),
)
async def accounts(
    principal: Principal,
    session: AsyncSession,
    limit: LimitParam = 50,
    cursor: CursorParam | None = None,
) -> AccountsPublic:
    """Each with your role on it (owner, editor, viewer) and whether electronic delivery is
    active; oldest first, keyset-paginated."""
    page = await list_accounts(session=session, principal=principal, limit=limit, cursor=cursor)
    return AccountsPublic([AccountPublic.of(v) for v in page.items], page.next_cursor)


@get(
    f"{SETTINGS}/notification-settings",
    tags=TAGS,
    summary="An account's notification settings and addresses",
    responses=problem_responses(401, 404),
)
async def read_settings(
    account_id: str, principal: Principal, session: AsyncSession
) -> NotificationSettingsPublic:
    """Alert mode, reminder schedule, language, addresses and electronic delivery status."""
    return NotificationSettingsPublic.of(
        await read_notification_settings(
            session=session, principal=principal, account_id=account_id
        )
    )


@patch(
    f"{SETTINGS}/notification-settings",
    tags=TAGS,
    summary="Change alert mode, reminder schedule or language (owners)",
    responses=problem_responses(400, 401, 403, 404, 415, 422),
)
async def change_settings(
    account_id: str, data: NotificationSettingsPatch, principal: Principal, services: Services
) -> NotificationSettingsPublic:
    """Only the fields given change. `mode` is `immediate` (one email per delivery) or
    `digest`; `reminder_days` holds up to 5 days after consignment, each 1..60 (`[]` for no
    reminders); `language` is `en` or `fr`. Bad values are one 422 naming every field."""
    changed = await change_notification_settings(
        services,
        principal,
        account_id,
        mode=_given(data.mode),
        reminder_days=_given(data.reminder_days),
        language=_given(data.language),
    )
    return NotificationSettingsPublic.of(changed)


@post(
    f"{SETTINGS}/consent",
    tags=TAGS,
    summary="Consent to electronic delivery (owners)",
    status_code=200,
    responses=problem_responses(401, 403, 404),
)
async def consent(
    account_id: str, principal: Principal, services: Services
) -> NotificationSettingsPublic:
    """Recorded as ConsentGiven evidence. Electronic delivery becomes active once an address
    is verified too. Consenting again lifts a suspension caused by failing notifications."""
    return NotificationSettingsPublic.of(
        await change_edelivery_consent(services, principal, account_id, given=True)
    )


@delete(
    f"{SETTINGS}/consent",
    tags=TAGS,
    summary="Withdraw consent to electronic delivery (owners)",
    status_code=200,
    responses=problem_responses(401, 403, 404),
)
async def withdraw(
    account_id: str, principal: Principal, services: Services
) -> NotificationSettingsPublic:
    """Recorded as ConsentWithdrawn evidence. Later dispatches go to paper; documents already
    in the mailbox stay there."""
    return NotificationSettingsPublic.of(
        await change_edelivery_consent(services, principal, account_id, given=False)
    )


@post(
    f"{SETTINGS}/notification-addresses",
    tags=TAGS,
    summary="Add an address; it receives a verification link (owners)",
    status_code=201,
    responses=problem_responses(
        400,
        401,
        403,
        404,
        415,
        422,
        details={
            409: "The account already has this address.",
            429: "Too many verification emails to this address or for this account lately "
            "(3 an hour per address, 10 per account by default): none sent; `Retry-After`.",
        },
    ),
)
async def create_address(
    account_id: str, data: AddressCreate, principal: Principal, services: Services
) -> NotificationAddressPublic:
    """The address receives alerts once its owner opens the link emailed to it (valid 48
    hours). The first verified address, with consent, makes electronic delivery active."""
    address = await add_notification_address(services, principal, account_id, data.email)
    return NotificationAddressPublic.of(address)


@post(
    f"{SETTINGS}/notification-addresses/{{address_id:str}}/verification",
    tags=TAGS,
    summary="Send a new verification link to an unverified address (owners)",
    status_code=202,
    responses=problem_responses(
        401,
        403,
        404,
        details={
            409: "The address is already verified.",
            429: "Too many verification emails to this address or for this account lately "
            "(3 an hour per address, 10 per account by default): none sent; `Retry-After`.",
        },
    ),
)
async def resend_link(
    account_id: str, address_id: str, principal: Principal, services: Services
) -> NotificationAddressPublic:
    """The earlier link stops working; the new one is valid 48 hours."""
    address = await resend_verification_link(services, principal, account_id, address_id)
    return NotificationAddressPublic.of(address)


@delete(
    f"{SETTINGS}/notification-addresses/{{address_id:str}}",
    tags=TAGS,
    summary="Remove an address (owners)",
    responses=problem_responses(401, 403, 404),
)
async def delete_address(
    account_id: str, address_id: str, principal: Principal, services: Services
) -> None:
    """Removing the last verified address ends electronic delivery: later dispatches go to
    paper until another address is verified."""
    await remove_notification_address(services, principal, account_id, address_id)


@dataclass
class _PageForBrowsers(Operation):
    """The verification link's operation: every answer is also a small HTML page, which a
    browser (anything not asking for JSON first) gets."""

    def __post_init__(self) -> None:
        page = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))
        for response in (self.responses or {}).values():
            if isinstance(response, OpenAPIResponse):
                response.content = {**(response.content or {}), "text/html": page}


@get(
    "/api/v1/notification-addresses/verify",
    tags=TAGS,
    summary="Verify an address: the link emailed to it",
    operation_class=_PageForBrowsers,
    security=[{}],  # no access token: the token in the link is the proof
    responses={
        200: ResponseSpec(
            AddressVerifiedPublic,
            description="Verified. A small HTML page, or this JSON with "
            "`Accept: application/json`.",
        ),
        **problem_responses(
            details={
                404: "The link is unknown or was already used.",
                422: "The link has expired; the account's owner asks for a new one.",
            }
        ),
    },
)
async def verify(
    request: Request,
    services: Services,
    token: Annotated[str, Parameter(max_length=200, description="The token in the link.")],
) -> Response[Any]:
    """Opened from the email, without logging in: the token is the proof that the address
    receives mail. Browsers get a page; clients asking for JSON get JSON or a problem."""
    wants_json = (
        request.accept.best_match(["text/html", "application/json"], default="text/html")
        == "application/json"
    )
    try:
        address, account = await verify_notification_address(services, token)
    except MailboxError as exc:
        if wants_json:
            raise
        return Template(
            "verify_address.html",
            context={"verified": False, "detail": exc.detail},
            status_code=exc.status_code,
        )
    body = AddressVerifiedPublic.of(address, account)
    if wants_json:
        return Response(body)
    return Template("verify_address.html", context={"verified": True, "result": body})


routes = [
    accounts,
    read_settings,
    change_settings,
    consent,
    withdraw,
    create_address,
    resend_link,
    delete_address,
    verify,
]
