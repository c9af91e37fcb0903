"""The public page of certified outages: when the service, or one office's part of it, did not
work, with each signed certificate (JSON and sealed PDF). Anyone may read it."""

from __future__ import annotations

from litestar import Request, get
from litestar.response import Template
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.api.pages.inbox import error_page
from mailbox.api.schemas.outages import OutagePublic
from mailbox.api.security import principal_or_none
from mailbox.deliveries.outages import list_outages
from mailbox.errors import MailboxError
from mailbox.services import Services

__all__ = ["routes"]


@get("/outages", include_in_schema=False)
async def outages_page(
    request: Request, services: Services, session: AsyncSession, cursor: str | None = None
) -> Template:
    principal = await principal_or_none(request, services)
    try:
        rows, next_cursor = await list_outages(session=session, limit=50, cursor=cursor)
    except MailboxError as exc:
        return error_page(principal, exc.detail, exc.status_code)
    return Template(
        "outages.html",
        context={
            "principal": principal,
            "outages": [OutagePublic.of(outage, code) for outage, code in rows],
            "next_cursor": next_cursor,
        },
    )


routes = [outages_page]
