"""The user's own account page: changing the password.

A change needs the current password (a wrong one counts as a failed log-in) and a new one that
meets the password rule; it ends every session and token the user held, this browser's
included, which then gets a fresh session so that the user stays logged in here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from mailbox.api.pages.inbox import form_refused
from mailbox.api.pages.sessions import open_session
from mailbox.api.security import client_address, form_token_valid, principal_or_none
from mailbox.errors import MailboxError, TooManyAttempts
from mailbox.identity.principal import Principal
from mailbox.identity.sessions import change_password
from mailbox.identity.throttle import LoginLimits
from mailbox.services import Services

__all__ = ["routes"]

PAGE = "/settings/password"
CHANGED = (
    "Password changed. Every other session and access token of yours has been logged out; "
    "this one goes on."
)


def _page(
    principal: Principal,
    *,
    notice: str | None = None,
    error: MailboxError | None = None,
    headers: dict[str, str] | None = None,
) -> Template:
    fields: dict[str, list[str]] = {}
    for problem in error.errors if error else []:
        fields.setdefault(problem.field, []).append(problem.message)
    return Template(
        "password.html",
        context={
            "principal": principal,
            "notice": notice,
            "error": error.detail if error and not fields else None,
            "fields": fields,
        },
        status_code=error.status_code if error else 200,
        headers=headers,
    )


@get(PAGE, include_in_schema=False)
async def password_page(
    request: Request, services: Services, done: str | None = None
) -> Response[Any]:
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    return _page(principal, notice=CHANGED if done == "changed" else None)


@dataclass
class PasswordForm:
    current_password: str = ""
    new_password: str = ""
    csrf_token: str = ""


@post(PAGE, include_in_schema=False, status_code=303)
async def change_password_form(
    request: Request,
    data: Annotated[PasswordForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    services: Services,
) -> Response[Any]:
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login", status_code=303)
    if not form_token_valid(request, services, data.csrf_token):
        return form_refused(principal)
    try:
        user = await change_password(
            services.db,
            LoginLimits.from_settings(services.settings),
            user_id=principal.user_id,
            current_password=data.current_password,
            new_password=data.new_password,
            address=client_address(request),
        )
    except TooManyAttempts as exc:
        return _page(principal, error=exc, headers={"Retry-After": str(exc.retry_after)})
    except MailboxError as exc:
        return _page(principal, error=exc)
    return open_session(
        Redirect(f"{PAGE}?done=changed", status_code=303), services, user.id, user.credentials_epoch
    )


routes = [password_page, change_password_form]
