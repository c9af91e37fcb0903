"""Web pages of the second factor (two-step log-in): the code asked after the password, the
enrolment that dispatchers and auditors go through before their first session, and the
settings page where anybody turns it on or off and renews their recovery codes.

The rules are in mailbox.identity.second_factor; these pages only show and post. The pages of
a half-finished log-in carry a form token bound to its signed cookie (see
mailbox.api.pages.sessions), as the other pages carry one bound to the session. The QR code of
a pending enrolment is an SVG served by :func:`enrolment_qr` (the pages run no script, and
load nothing from elsewhere).
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import segno
from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.api.pages.inbox import form_refused
from mailbox.api.pages.sessions import (
    DEVICE_COOKIE,
    PENDING_COOKIE,
    forget_pending,
    open_session,
    pending_epoch,
    pending_user,
    remember_device,
)
from mailbox.api.security import form_token_valid, principal_or_none
from mailbox.errors import Conflict, MailboxError, NotAuthenticated, TooManyAttempts
from mailbox.identity.principal import Principal
from mailbox.identity.second_factor import (
    RECOVERY_CODES,
    Need,
    SecondFactorLimits,
    check_second_factor,
    confirm_enrolment,
    disable_second_factor,
    need_after_password,
    pending_enrolment,
    regenerate_recovery_codes,
    second_factor_status,
    start_enrolment,
)
from mailbox.services import Services
from mailbox.timefmt import human

__all__ = ["routes"]

URL_ENCODED = Body(media_type=RequestEncodingType.URL_ENCODED)
STEP = "/login/second-factor"
SETTINGS = "/settings/two-factor"
QR = "/two-factor/qr.svg"
NOTICES = {
    "off": "Two-step log-in is off. Devices remembered for it are forgotten.",
}


@dataclass
class CodeForm:
    code: str = ""
    remember: str = ""
    csrf_token: str = ""


@dataclass
class ConfirmForm:
    """A change of the second factor, confirmed by the current password or a code."""

    password: str = ""
    code: str = ""
    csrf_token: str = ""


def _limits(services: Services) -> SecondFactorLimits:
    return SecondFactorLimits.from_settings(services.settings)


def _pending_form_token(request: Request[Any, Any, Any], services: Services) -> str:
    value = request.cookies.get(PENDING_COOKIE)
    return services.tokens.form_token(value) if value else ""


def _pending_form_valid(request: Request[Any, Any, Any], services: Services, submitted: str):
    value = request.cookies.get(PENDING_COOKIE)
    return bool(value and submitted) and services.tokens.form_token_matches(value, submitted)


def _refusal(exc: MailboxError) -> dict[str, str]:
    """Headers of a refused code: how long to wait when throttled."""
    return {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyAttempts) else {}


def _words(exc: MailboxError) -> str:
    """What the page says about a refusal: its detail, and what is wrong with the field."""
    fields = "; ".join(error.message for error in exc.errors)
    return f"{exc.detail}: {fields}" if fields else exc.detail


def _expired() -> Redirect:
    return Redirect("/login?error=expired", status_code=303)


async def _enrol_page(
    services: Services,
    user_id: str,
    *,
    action: str,
    csrf: str | None,
    principal: Principal | None = None,
    error: MailboxError | None = None,
    mandatory: bool = False,
) -> Template:
    enrolment = await start_enrolment(services.db, user_id)
    return Template(
        "two_factor_enrol.html",
        context={
            "principal": principal,
            "uri": enrolment.uri,
            "secret": enrolment.secret,
            "qr": QR,
            "action": action,
            "csrf": csrf,
            "mandatory": mandatory,
            "error": _words(error) if error else None,
        },
        status_code=error.status_code if error else 200,
        headers=_refusal(error) if error else None,
    )


def _code_page(csrf: str, error: MailboxError | None = None) -> Template:
    return Template(
        "login_second_factor.html",
        context={"csrf": csrf, "error": _words(error) if error else None, "action": STEP},
        status_code=error.status_code if error else 200,
        headers=_refusal(error) if error else None,
    )


def _recovery_page(principal: Principal | None, codes: list[str], *, then: str) -> Template:
    return Template(
        "two_factor_recovery.html", context={"principal": principal, "codes": codes, "then": then}
    )


@get(STEP, include_in_schema=False)
async def second_factor_step(request: Request, services: Services) -> Response[Any]:
    """After the right password: the code to answer, or the enrolment to go through first."""
    user_id = pending_user(request, services)
    if user_id is None:
        return _expired()
    need = await need_after_password(services.db, user_id)
    csrf = _pending_form_token(request, services)
    if need is Need.CODE:
        return _code_page(csrf)
    if need is Need.ENROL:
        return await _enrol_page(
            services, user_id, action=STEP + "/enrol", csrf=csrf, mandatory=True
        )
    return forget_pending(
        open_session(
            Redirect("/inbox", status_code=303), services, user_id, pending_epoch(request, services)
        )
    )


@post(STEP, include_in_schema=False, status_code=303)
async def answer_second_factor(
    request: Request, data: Annotated[CodeForm, URL_ENCODED], services: Services
) -> Response[Any]:
    user_id = pending_user(request, services)
    if user_id is None:
        return _expired()
    if not _pending_form_valid(request, services, data.csrf_token):
        return form_refused(None)
    try:
        enrolment = await check_second_factor(services.db, _limits(services), user_id, data.code)
    except (NotAuthenticated, TooManyAttempts) as exc:
        return _code_page(_pending_form_token(request, services), exc)
    response = forget_pending(
        open_session(
            Redirect("/inbox", status_code=303), services, user_id, pending_epoch(request, services)
        )
    )
    if data.remember:
        remember_device(response, services, user_id, enrolment)
    return response


@post(STEP + "/enrol", include_in_schema=False, status_code=200)
async def enrol_at_log_in(
    request: Request, data: Annotated[CodeForm, URL_ENCODED], services: Services
) -> Response[Any]:
    """The first code of a mandatory enrolment: the recovery codes, and the session."""
    user_id = pending_user(request, services)
    if user_id is None:
        return _expired()
    if not _pending_form_valid(request, services, data.csrf_token):
        return form_refused(None)
    try:
        codes = await confirm_enrolment(services.db, _limits(services), user_id, data.code)
    except Conflict:  # set up already (a form posted twice): the code step follows
        return Redirect(STEP, status_code=303)
    except MailboxError as exc:
        return await _enrol_page(
            services,
            user_id,
            action=STEP + "/enrol",
            csrf=_pending_form_token(request, services),
            error=exc,
            mandatory=True,
        )
    return forget_pending(
        open_session(
            _recovery_page(None, codes, then="/inbox"),
            services,
            user_id,
            pending_epoch(request, services),
        )
    )


@get(QR, include_in_schema=False)
async def enrolment_qr(
    request: Request, services: Services, session: AsyncSession
) -> Response[Any]:
    """The QR code of the caller's pending enrolment (its ``otpauth://`` URI) as SVG; 404
    without one. Never cached: it holds the secret."""
    principal = await principal_or_none(request, services)
    user_id = principal.user_id if principal else pending_user(request, services)
    enrolment = (
        await pending_enrolment(session=session, user_id=user_id) if user_id is not None else None
    )
    if enrolment is None:
        return Response("No set-up of two-step log-in is waiting", status_code=404)
    svg = io.BytesIO()
    segno.make(enrolment.uri, error="m").save(svg, kind="svg", scale=5, border=2)
    return Response(
        svg.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "no-store"}
    )


async def _settings_page(
    services: Services,
    session: AsyncSession,
    principal: Principal,
    *,
    notice: str | None = None,
    error: MailboxError | None = None,
) -> Response[Any]:
    status = await second_factor_status(session=session, user_id=principal.user_id)
    pending = await pending_enrolment(session=session, user_id=principal.user_id)
    if pending is not None and not status.enabled:
        return await _enrol_page(
            services,
            principal.user_id,
            action=SETTINGS + "/confirm",
            csrf=None,
            principal=principal,
            error=error,
        )
    return Template(
        "settings_two_factor.html",
        context={
            "principal": principal,
            "status": status,
            "since": human(status.since),
            "total": RECOVERY_CODES,
            "notice": notice,
            "error": _words(error) if error else None,
        },
        status_code=error.status_code if error else 200,
        headers=_refusal(error) if error else None,
    )


@get(SETTINGS, include_in_schema=False)
async def two_factor_settings(
    request: Request, services: Services, session: AsyncSession, done: str | None = None
) -> Response[Any]:
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    return await _settings_page(services, session, principal, notice=NOTICES.get(done or ""))


async def _settings_change(
    request: Request,
    services: Services,
    session: AsyncSession,
    csrf_token: str,
    change: Callable[[Principal], Awaitable[Response[Any]]],
) -> Response[Any]:
    """Check the session and its form token, then make ``change(user_id)``; a refusal shows
    the settings page with the domain's error."""
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login", status_code=303)
    if not form_token_valid(request, services, csrf_token):
        return form_refused(principal)
    try:
        return await change(principal)
    except MailboxError as exc:
        return await _settings_page(services, session, principal, error=exc)


@post(SETTINGS + "/start", include_in_schema=False, status_code=303)
async def start_two_factor(
    request: Request,
    data: Annotated[ConfirmForm, URL_ENCODED],
    services: Services,
    session: AsyncSession,
) -> Response[Any]:
    async def change(principal: Principal) -> Response[Any]:
        await start_enrolment(services.db, principal.user_id)
        return Redirect(SETTINGS, status_code=303)

    return await _settings_change(request, services, session, data.csrf_token, change)


@post(SETTINGS + "/confirm", include_in_schema=False, status_code=200)
async def confirm_two_factor(
    request: Request,
    data: Annotated[CodeForm, URL_ENCODED],
    services: Services,
    session: AsyncSession,
) -> Response[Any]:
    async def change(principal: Principal) -> Response[Any]:
        codes = await confirm_enrolment(
            services.db, _limits(services), principal.user_id, data.code
        )
        return _recovery_page(principal, codes, then=SETTINGS)

    return await _settings_change(request, services, session, data.csrf_token, change)


@post(SETTINGS + "/recovery-codes", include_in_schema=False, status_code=200)
async def new_recovery_codes(
    request: Request,
    data: Annotated[ConfirmForm, URL_ENCODED],
    services: Services,
    session: AsyncSession,
) -> Response[Any]:
    async def change(principal: Principal) -> Response[Any]:
        codes = await regenerate_recovery_codes(
            services.db,
            _limits(services),
            principal.user_id,
            password=data.password,
            code=data.code,
        )
        return _recovery_page(principal, codes, then=SETTINGS)

    return await _settings_change(request, services, session, data.csrf_token, change)


@post(SETTINGS + "/disable", include_in_schema=False, status_code=303)
async def disable_two_factor(
    request: Request,
    data: Annotated[ConfirmForm, URL_ENCODED],
    services: Services,
    session: AsyncSession,
) -> Response[Any]:
    async def change(principal: Principal) -> Response[Any]:
        await disable_second_factor(
            services.db,
            _limits(services),
            principal.user_id,
            password=data.password,
            code=data.code,
        )
        response = Redirect(f"{SETTINGS}?done=off", status_code=303)
        response.delete_cookie(DEVICE_COOKIE)
        return response

    return await _settings_change(request, services, session, data.csrf_token, change)


routes = [
    second_factor_step,
    answer_second_factor,
    enrol_at_log_in,
    enrolment_qr,
    two_factor_settings,
    start_two_factor,
    confirm_two_factor,
    new_recovery_codes,
    disable_two_factor,
]
