"""Web pages of an account's notification settings: whether documents arrive electronically,
consent, the addresses that receive alerts, alert mode, reminder days and language.

Each form posts to its own URL with the session's form token, calls the use case of
mailbox.notifications.actions that the JSON API calls for the same action, and answers 303 back
to the page (post, redirect, get). A refused change shows the page again with the error beside
its field. Owners change the settings; editors and viewers read them (mailbox.identity.policy
decides who is which).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.api.pages.inbox import FormTokenForm, error_page, form_refused
from mailbox.api.schemas.accounts import AccountPublic, NotificationSettingsPublic
from mailbox.api.security import form_token_valid, principal_or_none
from mailbox.deliveries.legal_clock import reminder_days_for
from mailbox.errors import FieldError, InvalidRequest, MailboxError
from mailbox.identity.accounts import list_accounts
from mailbox.identity.policy import account_role, can_manage
from mailbox.identity.principal import Principal
from mailbox.notifications.actions import (
    add_notification_address,
    change_edelivery_consent,
    change_notification_settings,
    remove_notification_address,
    resend_verification_link,
)
from mailbox.notifications.settings import LANGUAGES, MODES, read_notification_settings
from mailbox.services import Services
from mailbox.timefmt import human

__all__ = ["routes"]

PAGE = "/accounts/{account_id:str}/settings"
ADDRESS = PAGE + "/addresses/{address_id:str}"
URL_ENCODED = Body(media_type=RequestEncodingType.URL_ENCODED)
# What the page says after a change went through, by the ``done`` of the redirect.
NOTICES = {
    "saved": "Alert settings saved.",
    "address-added": "Address added. It receives alerts once someone opens the verification "
    "link just emailed to it (valid 48 hours).",
    "link-sent": "A new verification link was emailed; the earlier one no longer works.",
    "address-removed": "Address removed.",
    "consent-given": "Consent to electronic delivery recorded.",
    "consent-withdrawn": "Consent withdrawn: later documents are served on paper.",
}
Change = Callable[[Principal], Awaitable[object]]


@dataclass(frozen=True)
class Failure:
    """A refused change: the part of the page its form is in, the domain's error and what was
    typed (shown again)."""

    section: str
    error: MailboxError
    values: dict[str, str] = field(default_factory=dict)

    @property
    def detail(self) -> str:
        return self.error.detail

    @property
    def fields(self) -> dict[str, list[str]]:
        """Field errors by field name, for the message beside each input."""
        by_field: dict[str, list[str]] = {}
        for error in self.error.errors:
            by_field.setdefault(error.field, []).append(error.message)
        return by_field


def settings_path(account_id: str) -> str:
    return f"/accounts/{quote(account_id, safe='')}/settings"


def parse_days(text: str) -> list[int]:
    """Reminder days as typed ("3, 7"; empty for none); the domain checks their values."""
    pieces = [piece.strip() for piece in text.split(",") if piece.strip()]
    if not all(piece.isdecimal() for piece in pieces):
        raise InvalidRequest(
            "The notification settings are invalid",
            errors=[FieldError("reminder_days", "write whole days separated by commas, e.g. 3, 7")],
        )
    return [int(piece) for piece in pieces]


async def _page(
    services: Services,
    session: AsyncSession,
    principal: Principal,
    account_id: str,
    *,
    notice: str | None = None,
    failure: Failure | None = None,
) -> Template:
    try:
        current = await read_notification_settings(
            session=session, principal=principal, account_id=account_id
        )
    except MailboxError as exc:
        return error_page(principal, exc.detail, exc.status_code)
    account = current.account
    role = account_role(principal, account_id)
    return Template(
        "settings.html",
        context={
            "principal": principal,
            "account_name": account.name,
            "s": NotificationSettingsPublic.of(current),
            "consent_since": human(account.edelivery_consent_at),
            # By address: verified since, or (pending) its link valid until.
            "since": {a.id: human(a.verified_at or a.verify_expires_at) for a in current.addresses},
            "role": role.value if role else "",
            "can_manage": can_manage(principal, account_id),
            "reminder_text": ", ".join(
                str(day) for day in reminder_days_for(account, services.settings.reminder_days)
            ),
            "default_reminders": account.reminder_days is None,
            "modes": MODES,
            "languages": LANGUAGES,
            "path": settings_path(account_id),
            "notice": notice,
            "failure": failure,
        },
        status_code=failure.error.status_code if failure else 200,
    )


async def _change(
    request: Request,
    services: Services,
    session: AsyncSession,
    account_id: str,
    csrf_token: str,
    *,
    section: str,
    done: str,
    change: Change,
    values: dict[str, str] | None = None,
) -> Response[Any]:
    """Check the session and its form token, make ``change`` (a use case, which checks that the
    principal owns the account), and go back to the page; or show the page with the domain's
    error."""
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login", status_code=303)
    if not form_token_valid(request, services, csrf_token):
        return form_refused(principal)
    try:
        await change(principal)
    except MailboxError as exc:
        return await _page(
            services, session, principal, account_id, failure=Failure(section, exc, values or {})
        )
    return Redirect(f"{settings_path(account_id)}?done={done}", status_code=303)


@get("/settings", include_in_schema=False)
async def settings_index(
    request: Request, services: Services, session: AsyncSession
) -> Response[Any]:
    """The header's "Notification settings": the user's accounts, or straight to the only one."""
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    page = await list_accounts(session=session, principal=principal, limit=200)
    if len(page.items) == 1:
        return Redirect(settings_path(page.items[0].account.id))
    return Template(
        "settings_accounts.html",
        context={"principal": principal, "accounts": [AccountPublic.of(v) for v in page.items]},
    )


@get(PAGE, include_in_schema=False)
async def settings_page(
    request: Request,
    account_id: str,
    services: Services,
    session: AsyncSession,
    done: str | None = None,
) -> Response[Any]:
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    return await _page(services, session, principal, account_id, notice=NOTICES.get(done or ""))


@dataclass
class AlertsForm:
    mode: str = ""
    reminder_days: str = ""
    language: str = ""
    csrf_token: str = ""


@dataclass
class AddressForm:
    email: str = ""
    csrf_token: str = ""


# The forms. Each handler names its domain call; _change does the rest.
Alerts = Annotated[AlertsForm, URL_ENCODED]
Address = Annotated[AddressForm, URL_ENCODED]
TokenOnly = Annotated[FormTokenForm, URL_ENCODED]


@post(PAGE + "/alerts", include_in_schema=False, status_code=303)
async def save_alerts(
    request: Request, account_id: str, data: Alerts, services: Services, session: AsyncSession
) -> Response[Any]:
    values = {"mode": data.mode, "reminder_days": data.reminder_days, "language": data.language}
    return await _change(
        request,
        services,
        session,
        account_id,
        data.csrf_token,
        section="alerts",
        done="saved",
        values=values,
        change=lambda principal: change_notification_settings(
            services,
            principal,
            account_id,
            mode=data.mode,
            reminder_days=parse_days(data.reminder_days),
            language=data.language,
        ),
    )


@post(PAGE + "/addresses", include_in_schema=False, status_code=303)
async def add_address_form(
    request: Request, account_id: str, data: Address, services: Services, session: AsyncSession
) -> Response[Any]:
    return await _change(
        request,
        services,
        session,
        account_id,
        data.csrf_token,
        section="addresses",
        done="address-added",
        values={"email": data.email},
        change=lambda principal: add_notification_address(
            services, principal, account_id, data.email
        ),
    )


@post(ADDRESS + "/resend", include_in_schema=False, status_code=303)
async def resend_link_form(
    request: Request,
    account_id: str,
    address_id: str,
    data: TokenOnly,
    services: Services,
    session: AsyncSession,
) -> Response[Any]:
    return await _change(
        request,
        services,
        session,
        account_id,
        data.csrf_token,
        section="addresses",
        done="link-sent",
        change=lambda principal: resend_verification_link(
            services, principal, account_id, address_id
        ),
    )


@post(ADDRESS + "/remove", include_in_schema=False, status_code=303)
async def remove_address_form(
    request: Request,
    account_id: str,
    address_id: str,
    data: TokenOnly,
    services: Services,
    session: AsyncSession,
) -> Response[Any]:
    return await _change(
        request,
        services,
        session,
        account_id,
        data.csrf_token,
        section="addresses",
        done="address-removed",
        change=lambda principal: remove_notification_address(
            services, principal, account_id, address_id
        ),
    )


@post(PAGE + "/consent", include_in_schema=False, status_code=303)
async def give_consent_form(
    request: Request, account_id: str, data: TokenOnly, services: Services, session: AsyncSession
) -> Response[Any]:
    return await _change(
        request,
        services,
        session,
        account_id,
        data.csrf_token,
        section="consent",
        done="consent-given",
        change=lambda principal: change_edelivery_consent(
            services, principal, account_id, given=True
        ),
    )


@post(PAGE + "/consent/withdraw", include_in_schema=False, status_code=303)
async def withdraw_consent_form(
    request: Request, account_id: str, data: TokenOnly, services: Services, session: AsyncSession
) -> Response[Any]:
    return await _change(
        request,
        services,
        session,
        account_id,
        data.csrf_token,
        section="consent",
        done="consent-withdrawn",
        change=lambda principal: change_edelivery_consent(
            services, principal, account_id, given=False
        ),
    )


routes = [
    settings_index,
    settings_page,
    save_alerts,
    add_address_form,
    resend_link_form,
    remove_address_form,
    give_consent_form,
    withdraw_consent_form,
]
