"""Paper: the printing contractor (or the office) reports letters posted or returned, and a
recipient redeems a paper letter's retrieval code and opens its electronic copy."""

from __future__ import annotations

from litestar import Request, Response, get, post

from mailbox.api.downloads import document_response
from mailbox.api.problems import problem_responses
from mailbox.api.schemas.paper import (
    PaperPosted,
    PaperReturned,
    PaperStatusPublic,
    RetrievalCreate,
    RetrievalPublic,
)
from mailbox.api.security import client_address
from mailbox.clock import now
from mailbox.identity.principal import Principal
from mailbox.paper.posting import mark_posted, mark_returned
from mailbox.paper.retrieval import open_paper_copy, redeem_code
from mailbox.services import Services

__all__ = ["routes"]

_PRINTERS = (
    "Only the office's dispatchers and its printing contractor (role printer) report letters."
)


@post(
    "/api/v1/deliveries/{delivery_id:str}/paper/posted",
    tags=["paper"],
    summary="The delivery's letter was posted (PaperPosted)",
    status_code=200,
    responses=problem_responses(
        401,
        403,
        404,
        409,
        422,
        details={
            403: _PRINTERS,
            409: "The delivery is not waiting to be posted, or has no printed letter yet.",
            422: "A tracking number longer than 64 characters.",
        },
    ),
)
async def paper_posted(
    delivery_id: str, data: PaperPosted, principal: Principal, services: Services
) -> PaperStatusPublic:
    """Records PaperPosted (with the tracking number, if given): the legal clock's
    paper-posting rule counts from today; `legal_date` says what it decides."""
    delivery = await mark_posted(
        services, principal, delivery_id, tracking_number=data.tracking_number
    )
    return PaperStatusPublic.of(delivery, at=now())


@post(
    "/api/v1/deliveries/{delivery_id:str}/paper/returned",
    tags=["paper"],
    summary="The delivery's posted letter came back undeliverable (PaperReturned)",
    status_code=200,
    responses=problem_responses(
        401,
        403,
        404,
        409,
        422,
        details={
            403: _PRINTERS,
            409: "The delivery's letter was not posted (or was returned already).",
            422: "No reason, or one longer than 500 characters.",
        },
    ),
)
async def paper_returned(
    delivery_id: str, data: PaperReturned, principal: Principal, services: Services
) -> PaperStatusPublic:
    """Records PaperReturned with the reason."""
    delivery = await mark_returned(services, principal, delivery_id, reason=data.reason)
    return PaperStatusPublic.of(delivery, at=now())


@post(
    "/api/v1/retrievals",
    tags=["paper"],
    summary="Redeem a paper letter's retrieval code: link its delivery to your account",
    status_code=201,
    responses=problem_responses(
        401,
        403,
        409,
        422,
        429,
        details={
            403: "Machine clients redeem no codes; or the account named is not yours.",
            409: "The code was used already (it works once).",
            422: "Not a well-formed code (check it against the letter), no letter carries it, "
            "or no account chosen.",
            429: "Too many wrong codes from you or your address: try again after "
            "`Retry-After` seconds.",
        },
    ),
)
async def create_retrieval(
    request: Request, data: RetrievalCreate, principal: Principal, services: Services
) -> RetrievalPublic:
    """The delivery is linked to the account; its people open the electronic copy at
    `document_url`. The paper service's legal date does not change."""
    redeemed = await redeem_code(
        services,
        principal,
        data.code,
        account_id=data.account_id,
        account_name=data.account_name,
        ip=client_address(request),
    )
    return RetrievalPublic.of(redeemed)


@get(
    "/api/v1/deliveries/{delivery_id:str}/paper/copy",
    tags=["paper"],
    summary="Open the electronic copy of a paper delivery (after redeeming its code)",
    media_type="application/pdf",
    response_description="The sealed PDF.",
    responses=problem_responses(
        401,
        403,
        404,
        409,
        details={
            403: "Redeem the letter's retrieval code first.",
            409: "The delivery is not served on paper: download its document instead.",
        },
    ),
)
async def paper_copy(
    delivery_id: str, request: Request, principal: Principal, services: Services
) -> Response[bytes]:
    """The first opening records ContentHandover, later ones ContentAccess; the delivery's
    status and legal date (the paper service's) do not change."""
    document = await open_paper_copy(services, principal, delivery_id, ip=client_address(request))
    return document_response(document)


routes = [paper_posted, paper_returned, create_retrieval, paper_copy]
