"""Certified outages: an office's dispatchers record one of their office's part of the service
(the operator records service-wide ones with ``python -m mailbox outage record``); anyone reads
the list and each signed, timestamped certificate (JSON, or the sealed PDF)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from litestar import Response, get, post
from litestar.params import Parameter
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.api.problems import problem_responses
from mailbox.api.schemas.deliveries import CursorParam, LimitParam
from mailbox.api.schemas.outages import OutageCreate, OutagePublic, OutagesPublic
from mailbox.api.security import may_record_outages
from mailbox.deliveries.outages import get_outage, list_outages, record_outage
from mailbox.identity.principal import Principal
from mailbox.services import Services

__all__ = ["routes"]

TAGS = ["outages"]
NO_TOKEN: list[dict[str, list[str]]] = [{}]  # anyone: the list is published


@post(
    "/api/v1/outages",
    tags=TAGS,
    summary="Record an outage of your office's part of the service and have it certified",
    status_code=201,
    guards=[may_record_outages],
    responses=problem_responses(
        401,
        403,
        404,
        415,
        details={
            422: "A missing or bad field: `to` not after `from`, in the future or more than "
            "31 days after it, a time without its offset, `affected` empty or over 500 "
            "characters; `errors` names each.",
        },
    ),
)
async def create_outage(
    data: OutageCreate, principal: Principal, services: Services
) -> Response[OutagePublic]:
    """The service signs a certificate of it (evidence key, RFC 3161 timestamp), writes it
    into the evidence log and extends the legal dates of the office's deliveries it touches,
    as their rules say (each gets an `OutageExtension` evidence record). Only the office's
    dispatchers may; an unknown office is 404."""
    starts_at, ends_at = data.period()
    outage = await record_outage(
        services,
        starts_at=starts_at,
        ends_at=ends_at,
        affected=data.affected,
        office=data.office_id,
        actor=principal.user_id,
        principal=principal,
    )
    code = json.loads(outage.certificate)["certificate"]["office"]
    return Response(
        OutagePublic.of(outage, code),
        status_code=201,
        headers={"Location": f"/api/v1/outages/{outage.id}/certificate"},
    )


@get(
    "/api/v1/outages",
    tags=TAGS,
    summary="The certified outages, newest first",
    security=NO_TOKEN,
    responses=problem_responses(422),
)
async def outages(
    session: AsyncSession, limit: LimitParam = 50, cursor: CursorParam | None = None
) -> OutagesPublic:
    """Published for anyone: when the service (or one office's part of it) did not work, and
    the SHA-256 of each certificate. Keyset-paginated."""
    rows, next_cursor = await list_outages(session=session, limit=limit, cursor=cursor)
    return OutagesPublic(
        items=[OutagePublic.of(outage, code) for outage, code in rows], next_cursor=next_cursor
    )


@get(
    "/api/v1/outages/{outage_id:str}/certificate",
    tags=TAGS,
    summary="The signed, timestamped certificate of an outage (JSON, or the sealed PDF)",
    security=NO_TOKEN,
    media_type="application/json",
    response_description="JSON: `certificate` (the facts), `sha256` of its canonical JSON, "
    "`signature` (ECDSA, base64) and `timestamp_token` (RFC 3161, base64) over that SHA-256, "
    "and the `signer_certificate`; with `format=pdf`, the same facts as a PAdES-sealed PDF.",
    responses=problem_responses(404, 422),
)
async def outage_certificate(
    outage_id: str,
    session: AsyncSession,
    format: Annotated[
        Literal["json", "pdf"], Parameter(description="`json` (default) or `pdf`.")
    ] = "json",
) -> Response[Any]:
    """Verify the JSON with the service's evidence certificate and the root certificate
    (`python -m mailbox outage verify`), the PDF with any PAdES validator."""
    outage = await get_outage(session=session, outage_id=outage_id)
    if format == "pdf":
        return Response(
            outage.certificate_pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="outage-{outage.id}.pdf"'},
        )
    return Response(outage.certificate, media_type="application/json")


routes = [create_outage, outages, outage_certificate]
