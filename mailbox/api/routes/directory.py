"""The office directory: where an office receives documents from other offices."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.params import Parameter
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.api.problems import problem_responses
from mailbox.api.schemas.directory import OfficePublic
from mailbox.identity.admin import office_mailbox
from mailbox.identity.principal import Principal

__all__ = ["routes"]


@get(
    "/api/v1/offices/{office_code:str}",
    tags=["offices"],
    summary="An office, and the mailbox in which other offices serve it documents",
    responses=problem_responses(
        401, 404, details={422: "The office code is longer than 16 characters."}
    ),
)
async def read_office(
    office_code: Annotated[
        str, Parameter(description="The office's code, e.g. EP.", max_length=16)
    ],
    principal: Principal,
    session: AsyncSession,
) -> OfficePublic:
    """Office-to-office deliveries go to the office's mailbox: dispatch with its
    `mailbox_account_id` as `recipient_account_id`. They then have the same seal, evidence,
    legal clock, event feed, webhooks and proof of delivery as any other delivery."""
    del principal  # any signed-in caller: offices are public bodies
    office, mailbox = await office_mailbox(session=session, office=office_code)
    return OfficePublic.of(office, mailbox)


routes = [read_office]
