"""Offices: dispatch a document, list what the office dispatched, and follow a delivery.

A dispatch is refused before its document is received when the caller is not authenticated
(401) or dispatches for no office (403), and while it is received when a metadata field is
oversized (413) or not text (400): see :mod:`mailbox.api.bodies`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.api.bodies import FORM_FIELD_LIMIT, BoundedFormRequest
from mailbox.api.problems import problem_responses
from mailbox.api.schemas.deliveries import (
    CursorParam,
    DeliveryPublic,
    DispatchForm,
    DispatchListPublic,
    DispatchPublic,
    LimitParam,
)
from mailbox.api.security import client_address, may_dispatch
from mailbox.deliveries.data_documents import media_type_for
from mailbox.deliveries.dispatch import DispatchRequest, dispatch
from mailbox.deliveries.inbox import read_delivery
from mailbox.deliveries.office_list import MAX_DAYS, DispatchFilter, list_dispatches
from mailbox.identity.policy import dispatch_office
from mailbox.identity.principal import Principal
from mailbox.models import DeliveryStatus
from mailbox.services import Services

IdempotencyKey = Annotated[
    str | None,
    Parameter(
        header="Idempotency-Key",
        max_length=200,
        description="Send one with every dispatch: retrying with the same key and body (after "
        "a timeout, a 503 or a 507) returns the first dispatch instead of serving the document "
        "twice.",
    ),
]


@post(
    "/api/v1/dispatches",
    tags=["offices"],
    summary="Dispatch a PDF to an account, or by post to a recipient without one",
    status_code=201,
    guards=[may_dispatch],
    request_class=BoundedFormRequest,
    responses=problem_responses(
        400,
        401,
        403,
        409,
        413,
        415,
        422,
        503,
        507,
        details={
            400: "The request is malformed, or a metadata field is not UTF-8 text.",
            403: "You dispatch for no office, or not for the one named.",
            409: "The Idempotency-Key was used before with a different request.",
            413: "The PDF exceeds the upload limit (MAILBOX_UPLOAD_LIMIT_BYTES), or a metadata "
            f"field exceeds {FORM_FIELD_LIMIT} bytes.",
            415: "The body is not multipart/form-data.",
            422: "Invalid metadata (each bad field named, the fields of a postal address as "
            "`recipient_postal_address.<field>`, a `document_date` that is not a date or more "
            "than a day ahead), not exactly one of recipient_account_id and "
            "recipient_postal_address, unknown recipient, or not an acceptable PDF (not a PDF, "
            "encrypted, malformed, an existing signature that cannot be read, or active "
            "content such as JavaScript or embedded files that the office does not accept: "
            "`detail` names what was found). `evidence_id` names the SubmissionRejection "
            "record.",
            503: "Our document store cannot be written, or our database stayed unavailable "
            "through our own retries: nothing was delivered. Send the same request again after "
            "`Retry-After` seconds, with the same Idempotency-Key.",
            507: "Our document store is full: nothing was delivered. Send the same request again "
            "after `Retry-After` seconds, with the same Idempotency-Key.",
        },
    ),
)
async def create_dispatch(
    request: Request,
    data: Annotated[DispatchForm, Body(media_type=RequestEncodingType.MULTI_PART)],
    principal: Principal,
    services: Services,
    idempotency_key: IdempotencyKey = None,
) -> Response[DeliveryPublic]:
    """Seal the PDF with the office seal (PAdES with an RFC 3161 timestamp), store it encrypted
    and deliver it into the account's mailbox, or queue it for paper when electronic delivery
    is not possible. A refused dispatch answers a problem naming each bad field and the
    `evidence_id` of its SubmissionRejection record."""
    office_id = dispatch_office(principal, data.office_id)
    pdf = await data.file.read() if data.file is not None else b""
    filename = data.file.filename if data.file is not None else ""
    dispatched = await dispatch(
        services,
        DispatchRequest(
            office_id=office_id,
            recipient_account_id=data.recipient_account_id,
            recipient_postal_address=data.recipient_postal_address,
            kind_code=data.kind_code,
            dossier_number=data.dossier_number,
            title=data.title,
            filename=filename or "document.pdf",
            pdf=pdf,
            media_type=media_type_for(
                data.file.filename if data.file else "",
                data.file.content_type if data.file else None,
            ),
            document_date=data.document_date,
        ),
        actor=principal.actor,
        actor_ip=client_address(request),
        idempotency_key=idempotency_key,
    )
    headers = {"Location": f"/api/v1/dispatches/{dispatched.delivery.id}"}
    if not dispatched.created:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        DeliveryPublic.of(dispatched.view, dispatched.timeline, for_addressee=False),
        status_code=201,
        headers=headers,
    )


@get(
    "/api/v1/dispatches/{delivery_id:str}",
    tags=["offices"],
    summary="A dispatch's status",
    responses=problem_responses(401, 404),
)
async def read_dispatch(
    delivery_id: str, principal: Principal, session: AsyncSession
) -> DeliveryPublic:
    """Status and evidence timeline of a delivery, for the office that dispatched it."""
    view, records = await read_delivery(
        session=session, principal=principal, delivery_id=delivery_id, as_office=True
    )
    return DeliveryPublic.of(view, records, for_addressee=False)


@get(
    "/api/v1/dispatches",
    tags=["offices"],
    summary="Your office's dispatches, newest first",
    responses=problem_responses(
        401,
        details={
            422: "A bad limit or filter (an unknown status, a date not written YYYY-MM-DD, "
            "dispatched_from after dispatched_to, days out of range), or a cursor this service "
            "did not issue; `errors` names each bad field."
        },
    ),
)
async def list_office_dispatches(
    principal: Principal,
    session: AsyncSession,
    limit: LimitParam = 50,
    cursor: CursorParam | None = None,
    status: Annotated[
        DeliveryStatus | None, Parameter(description="Only deliveries in this status.")
    ] = None,
    kind: Annotated[
        str | None, Parameter(max_length=32, description="Only documents of this kind code.")
    ] = None,
    dossier_number: Annotated[
        str | None, Parameter(max_length=64, description="Only this dossier.")
    ] = None,
    recipient: Annotated[
        str | None,
        Parameter(
            max_length=200,
            description="Only deliveries to this account: its id, or a part of its name "
            "(any case).",
        ),
    ] = None,
    dispatched_from: Annotated[
        date | None,
        Parameter(description="Only dispatched on this day (UTC) or later: YYYY-MM-DD."),
    ] = None,
    dispatched_to: Annotated[
        date | None,
        Parameter(description="Only dispatched on this day (UTC) or earlier: YYYY-MM-DD."),
    ] = None,
    not_picked_up_after_days: Annotated[
        int | None,
        Parameter(
            ge=1,
            le=MAX_DAYS,
            description="Only deliveries made available at least this many days ago and not "
            "picked up yet (deemed delivered ones included; paper ones never are).",
        ),
    ] = None,
    on_paper: Annotated[
        bool | None,
        Parameter(description="true: only those handed to paper; false: only electronic ones."),
    ] = None,
    office_id: Annotated[
        str | None,
        Parameter(max_length=64, description="Only this office (for those who read several)."),
    ] = None,
) -> DispatchListPublic:
    """The deliveries dispatched by the offices you are a dispatcher or auditor of,
    keyset-paginated by dispatch time. Anyone else gets an empty list."""
    page = await list_dispatches(
        session=session,
        principal=principal,
        filters=DispatchFilter(
            status=status.value if status else None,
            kind=kind,
            dossier_number=dossier_number,
            recipient=recipient,
            dispatched_from=dispatched_from,
            dispatched_to=dispatched_to,
            not_picked_up_after_days=not_picked_up_after_days,
            on_paper=on_paper,
            office_id=office_id,
        ),
        limit=limit,
        cursor=cursor,
    )
    return DispatchListPublic([DispatchPublic.of_item(i) for i in page.items], page.next_cursor)
