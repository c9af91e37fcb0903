"""The coverage page of a hub's staff: a period form, the counts per sending office (late and
missing in red), each expected item with its class, what arrived unexpected; for the hub's
dispatchers, the upload form of the list of expected items and the button that sends
reminders.

No rules here: the report, the upload and the reminders are the use cases of
:mod:`mailbox.coverage.hub` (the ones the API calls), and every class is worded by
:data:`mailbox.coverage.rule.WORDS`.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.response import Redirect, Template

from mailbox.api.pages.inbox import error_page, form_refused
from mailbox.api.schemas.coverage import CoveragePublic
from mailbox.api.security import foreign_origin, form_token_valid, principal_or_none
from mailbox.coverage.hub import hub_coverage, hub_reminders, hub_upload
from mailbox.coverage.report import Coverage
from mailbox.coverage.rule import WORDS, ItemClass
from mailbox.errors import InvalidRequest, MailboxError
from mailbox.identity.policy import Action, can_manage_office, offices_where
from mailbox.identity.principal import Principal
from mailbox.services import Services

__all__ = ["routes"]

PAGE = "/office/coverage"
# The largest list a browser may upload here (the API takes the same).
MAX_LIST_BYTES = 1024 * 1024
_MEDIA_TYPES = {
    ".csv": "text/csv",
    ".jsonl": "application/x-ndjson",
    ".ndjson": "application/x-ndjson",
}


def _page(
    principal: Principal,
    *,
    office: str,
    report: Coverage | None,
    period: dict[str, str],
    failure: MailboxError | None = None,
    notice: str | None = None,
) -> Template:
    hub_id = report.hub.id if report is not None else ""
    return Template(
        "coverage.html",
        context={
            "principal": principal,
            "section": "coverage",
            "can_dispatch": bool(offices_where(principal, Action.DISPATCH)),
            "office": report.hub.code if report is not None else office,
            "hub_name": report.hub.name if report is not None else "",
            "can_manage": bool(hub_id) and can_manage_office(principal, hub_id),
            "several_offices": len(offices_where(principal, Action.READ_OFFICE)) > 1,
            "report": CoveragePublic.of(report) if report is not None else None,
            "words": {c.value: WORDS[c] for c in ItemClass},
            "period": period,
            "failure": failure,
            "notice": notice,
        },
        status_code=failure.status_code if failure is not None else 200,
    )


async def _report_page(
    services: Services,
    principal: Principal,
    office: str,
    period: dict[str, str],
    *,
    failure: MailboxError | None = None,
    notice: str | None = None,
) -> Response[Any]:
    try:
        report = await hub_coverage(
            services,
            principal,
            office_code=office,
            period_from=period.get("from") or None,
            period_to=period.get("to") or None,
            sender=period.get("sender") or None,
        )
    except InvalidRequest as exc:
        return _page(principal, office=office, report=None, period=period, failure=exc)
    except MailboxError as exc:
        return error_page(principal, exc.detail, exc.status_code)
    shown = {
        "from": report.period_from.isoformat(),
        "to": report.period_to.isoformat(),
        "sender": period.get("sender", ""),
    }
    return _page(
        principal, office=office, report=report, period=shown, failure=failure, notice=notice
    )


@get(PAGE, include_in_schema=False)
async def coverage_page(request: Request, services: Services) -> Response[Any]:
    """The report of the caller's office (``office`` names one of several), for the period
    of the form (the current month without one)."""
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login")
    readable = offices_where(principal, Action.READ_OFFICE)
    if not readable:
        return Redirect("/inbox")
    period = {
        "from": request.query_params.get("from", ""),
        "to": request.query_params.get("to", ""),
        "sender": request.query_params.get("sender", ""),
    }
    office = request.query_params.get("office", "").strip() or readable[0]
    return await _report_page(services, principal, office, period)


async def _posted(
    request: Request, services: Services
) -> tuple[Principal, dict[str, Any]] | Response[Any]:
    """The caller and the form, once the form's token and origin are checked."""
    principal = await principal_or_none(request, services)
    if principal is None:
        return Redirect("/login", status_code=303)
    form = await request.form()
    token = form.get("csrf_token")
    if foreign_origin(request, services) or not form_token_valid(
        request, services, token if isinstance(token, str) else ""
    ):
        return form_refused(principal)
    fields = {key: value for key, value in form.items()}
    return principal, fields


def _text(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    return value.strip() if isinstance(value, str) else ""


@post(f"{PAGE}/{{office_code:str}}/expected-items", include_in_schema=False, status_code=200)
async def upload_page(request: Request, services: Services, office_code: str) -> Response[Any]:
    """The upload form's post: the same use case as the API's; a refused list shows the page
    again with each bad line, and nothing saved."""
    posted = await _posted(request, services)
    if not isinstance(posted, tuple):
        return posted
    principal, fields = posted
    period = {name: _text(fields, name) for name in ("from", "to", "sender")}
    upload = fields.get("list")
    body = b""
    media_type = ""
    if isinstance(upload, UploadFile):
        body = await upload.read(MAX_LIST_BYTES + 1)
        name = (upload.filename or "").lower()
        media_type = next(
            (kind for suffix, kind in _MEDIA_TYPES.items() if name.endswith(suffix)),
            upload.content_type or "",
        )
    try:
        if len(body) > MAX_LIST_BYTES:
            raise InvalidRequest(f"The list is larger than {MAX_LIST_BYTES} bytes")
        hub, counts = await hub_upload(
            services, principal, office_code=office_code, body=body, media_type=media_type
        )
    except InvalidRequest as exc:
        return await _report_page(services, principal, office_code, period, failure=exc)
    except MailboxError as exc:
        return error_page(principal, exc.detail, exc.status_code)
    notice = (
        f"List saved: {counts.added} item(s) added, {counts.updated} with a new due date, "
        f"{counts.unchanged} unchanged."
    )
    return await _report_page(services, principal, hub.code, period, notice=notice)


@post(f"{PAGE}/{{office_code:str}}/reminders", include_in_schema=False, status_code=200)
async def reminders_page(request: Request, services: Services, office_code: str) -> Response[Any]:
    """The "Send reminders" button: reminds the offices behind in the period shown."""
    posted = await _posted(request, services)
    if not isinstance(posted, tuple):
        return posted
    principal, fields = posted
    period = {name: _text(fields, name) for name in ("from", "to", "sender")}
    try:
        report, done = await hub_reminders(
            services,
            principal,
            office_code=office_code,
            period_from=period["from"] or None,
            period_to=period["to"] or None,
            sender=period["sender"] or None,
        )
    except InvalidRequest as exc:
        return await _report_page(services, principal, office_code, period, failure=exc)
    except MailboxError as exc:
        return error_page(principal, exc.detail, exc.status_code)
    parts = [f"{len(done.sent)} reminder(s) sent"]
    if done.sent:
        parts[0] += " (to " + ", ".join(r.sender for r in done.sent) + ")"
    for unreachable in done.cannot_be_reminded:
        parts.append(f"{unreachable.sender} cannot be reminded: {unreachable.reason}")
    if done.already_reminded_today:
        parts.append("already reminded today: " + ", ".join(done.already_reminded_today))
    return await _report_page(
        services, principal, report.hub.code, period, notice="; ".join(parts) + "."
    )


routes = [coverage_page, upload_page, reminders_page]
