"""Offices: the document kinds an office serves on paper only, set by its dispatchers."""

from __future__ import annotations

from typing import Annotated

from litestar import delete, put
from litestar.params import Parameter

from mailbox.api.problems import problem_responses
from mailbox.api.schemas.paper_kinds import PaperOnlyKindsPublic
from mailbox.deliveries.dispatch import KIND_CODE
from mailbox.deliveries.paper_kinds import change_paper_only_kind
from mailbox.identity.principal import Principal
from mailbox.services import Services

__all__ = ["routes"]

PATH = "/api/v1/offices/{office_code:str}/paper-only-kinds/{kind_code:str}"
TAGS = ["offices"]
OfficeCode = Annotated[str, Parameter(description="The office's code, e.g. EP.", max_length=16)]
KindCode = Annotated[
    str,
    Parameter(
        description="A document kind code, as dispatches carry it.",
        max_length=32,
        pattern=KIND_CODE.pattern,
    ),
]
RESPONSES = problem_responses(
    401,
    403,
    404,
    422,
    details={
        403: "You see the office (an auditor) but only its dispatchers change this.",
        404: "No office with that code that you belong to.",
        422: "Not a document kind code.",
    },
)


@put(PATH, tags=TAGS, summary="Serve a document kind on paper only", responses=RESPONSES)
async def add_paper_only_kind(
    office_code: OfficeCode, kind_code: KindCode, principal: Principal, services: Services
) -> PaperOnlyKindsPublic:
    """From now on every dispatch of this kind goes on paper (`paper_reason_code`
    `paper_only_kind`, a RelayToNonERDS record saying so); deliveries already made keep their
    course. Marking a kind that is marked already changes nothing."""
    office = await change_paper_only_kind(
        services, principal, office_code=office_code, kind_code=kind_code, paper_only=True
    )
    return PaperOnlyKindsPublic.of(office)


@delete(
    PATH,
    tags=TAGS,
    summary="Serve a document kind electronically again",
    status_code=200,
    responses=RESPONSES,
)
async def remove_paper_only_kind(
    office_code: OfficeCode, kind_code: KindCode, principal: Principal, services: Services
) -> PaperOnlyKindsPublic:
    """Later dispatches of this kind are delivered electronically where the recipient can
    receive them. Removing a kind that is not marked changes nothing."""
    office = await change_paper_only_kind(
        services, principal, office_code=office_code, kind_code=kind_code, paper_only=False
    )
    return PaperOnlyKindsPublic.of(office)


routes = [add_paper_only_kind, remove_paper_only_kind]
