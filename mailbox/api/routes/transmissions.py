"""Office-to-office transmissions: send a package (directly or through a hub), follow it hop
by hop, fetch its documents, forward one a hub holds, download its proof; and a hub's
forwarding rules."""

from __future__ import annotations

import hashlib
from typing import Annotated

from litestar import Request, Response, get, post, put
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.api.bodies import BoundedFormRequest
from mailbox.api.downloads import digest_headers
from mailbox.api.problems import problem_responses
from mailbox.api.routes.dispatches import IdempotencyKey
from mailbox.api.schemas.deliveries import CursorParam, LimitParam
from mailbox.api.schemas.transmissions import (
    ForwardingRuleChange,
    ForwardingRulesPublic,
    TransmissionForm,
    TransmissionListPublic,
    TransmissionPublic,
)
from mailbox.api.security import client_address, may_dispatch
from mailbox.identity.policy import dispatch_office
from mailbox.identity.principal import Principal
from mailbox.proof.transmission import build_transmission_bundle
from mailbox.services import Services
from mailbox.transmissions.documents import PackageDocument, fetch_document, fetch_seal
from mailbox.transmissions.forwarding import forward_held
from mailbox.transmissions.rules import forwarding_rules
from mailbox.transmissions.send import send_transmission
from mailbox.transmissions.status import list_transmissions, read_transmission

__all__ = ["routes", "send"]

TAGS = ["transmissions"]
ONE = "/api/v1/transmissions/{transmission_id:str}"
RULES = "/api/v1/offices/{office_code:str}/forwarding"
OfficeCode = Annotated[str, Parameter(description="The hub office's code.", max_length=16)]
Position = Annotated[int, Parameter(ge=0, le=199, description="The document's place (from 0).")]


@post(
    "/api/v1/transmissions",
    tags=TAGS,
    summary="Send a package to another office, directly or through a hub",
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
            403: "You dispatch for no office, or not for the one named.",
            409: "The Idempotency-Key was used before with a different request.",
            413: "A document exceeds the upload limit (MAILBOX_UPLOAD_LIMIT_BYTES).",
            422: "The manifest is invalid (each bad field named), its `sender` is not your "
            "office, the `final_recipient` or `via` office is unknown or has no mailbox, a "
            "document is missing, not in the manifest, does not match its SHA-256 "
            "(`documents[n].sha256`) or cannot be sealed. `evidence_id` names the "
            "SubmissionRejection record.",
        },
    ),
)
async def send(
    request: Request,
    data: Annotated[TransmissionForm, Body(media_type=RequestEncodingType.MULTI_PART)],
    principal: Principal,
    services: Services,
    idempotency_key: IdempotencyKey = None,  # noqa: RUF013  (the alias allows None)
) -> Response[TransmissionPublic]:
    """Seal every document and the package document that binds them with the route, and
    deliver the package into the next office's mailbox: the hub's (which receives it,
    acknowledges it and forwards it by its rule), or the final recipient's."""
    office_id = dispatch_office(principal, data.office_id)
    manifest = await data.manifest.read() if data.manifest is not None else b""
    parts = data.documents if isinstance(data.documents, list) else [data.documents]
    files = {part.filename: await part.read() for part in parts if part is not None}
    sent = await send_transmission(
        services,
        office_id=office_id,
        manifest=manifest,
        files=files,
        via=data.via,
        actor=principal.actor,
        actor_ip=client_address(request),
        idempotency_key=idempotency_key,
    )
    headers = {"Location": f"/api/v1/transmissions/{sent.view.transmission.id}"}
    if not sent.created:
        headers["Idempotent-Replayed"] = "true"
    return Response(TransmissionPublic.of(sent.view), status_code=201, headers=headers)


@get(
    "/api/v1/transmissions",
    tags=TAGS,
    summary="Your offices' transmissions (sent, routed, received), newest first",
    responses=problem_responses(401, details={422: "A bad limit, or a cursor not ours."}),
)
async def list_all(
    principal: Principal,
    session: AsyncSession,
    limit: LimitParam = 50,
    cursor: CursorParam | None = None,
) -> TransmissionListPublic:
    """Those your offices sent, routed as hub or received, and those that passed through a
    mailbox you read; keyset-paginated."""
    page = await list_transmissions(
        session=session, principal=principal, limit=limit, cursor=cursor
    )
    return TransmissionListPublic([TransmissionPublic.of(v) for v in page.items], page.next_cursor)


@get(ONE, tags=TAGS, summary="A transmission end to end", responses=problem_responses(401, 404))
async def read_one(
    transmission_id: str, principal: Principal, session: AsyncSession
) -> TransmissionPublic:
    """Every hop (from, to, its delivery, delivered, acknowledged by the hub, forwarded,
    picked up) and the documents with their SHA-256."""
    return TransmissionPublic.of(
        await read_transmission(
            session=session, principal=principal, transmission_id=transmission_id
        )
    )


def _download(document: PackageDocument) -> Response[bytes]:
    headers = {
        **digest_headers(document.sha256),
        "Content-Disposition": f'attachment; filename="{document.filename}"',
        "Cache-Control": "private, no-store",
    }
    if document.evidence_type:
        headers["X-Evidence-Type"] = document.evidence_type
    return Response(document.content, media_type=document.media_type, headers=headers)


@get(
    f"{ONE}/documents/{{position:int}}",
    tags=TAGS,
    summary="One document of the package (a recorded pickup)",
    responses=problem_responses(401, 403, 404, details={422: "A negative position."}),
)
async def document(
    transmission_id: str,
    position: Position,
    request: Request,
    principal: Principal,
    services: Services,
) -> Response[bytes]:
    """The stored (sealed) document, in its media type, for the people of a mailbox the
    package was delivered into; recorded on that hop's delivery (the first is its pickup)."""
    found = await fetch_document(
        services, principal, transmission_id, position, ip=client_address(request)
    )
    return _download(found)


@get(
    f"{ONE}/documents/{{position:int}}/seal",
    tags=TAGS,
    summary="The detached seal of a data document of the package",
    media_type="application/pkcs7-signature",
    responses=problem_responses(401, 403, 404, details={422: "A negative position."}),
)
async def document_seal(
    transmission_id: str, position: Position, principal: Principal, services: Services
) -> Response[bytes]:
    """A CMS signature over the stored JSON or XML document (it holds no content)."""
    return _download(await fetch_seal(services, principal, transmission_id, position))


@post(
    f"{ONE}/forward",
    tags=TAGS,
    summary="Forward a transmission your hub holds",
    status_code=200,
    responses=problem_responses(
        401, 403, 404, 409, details={409: "The transmission is not held by its hub."}
    ),
)
async def forward(
    transmission_id: str, principal: Principal, services: Services
) -> TransmissionPublic:
    """For the hub's dispatchers (or its machine client), after their own checks."""
    return TransmissionPublic.of(await forward_held(services, principal, transmission_id))


@get(
    f"{ONE}/proof",
    tags=TAGS,
    summary="The transmission's proof (ZIP): every hop's proof of delivery and the chain",
    media_type="application/zip",
    responses=problem_responses(401, 404),
)
async def proof(
    transmission_id: str, request: Request, principal: Principal, services: Services
) -> Response[bytes]:
    """transmission.json, hops/<n>.zip (each hop's proof of delivery, by hash), and the
    package with its seal for the people of a mailbox it was delivered into (recorded)."""
    content = await build_transmission_bundle(
        services, principal, transmission_id, ip=client_address(request)
    )
    headers = {
        **digest_headers(hashlib.sha256(content).hexdigest()),
        "Content-Disposition": f'attachment; filename="transmission-{transmission_id}.zip"',
        "Cache-Control": "no-store",
    }
    return Response(content, media_type="application/zip", headers=headers)


@get(
    RULES,
    tags=TAGS,
    summary="A hub's forwarding rules",
    responses=problem_responses(
        401, 404, details={422: "The office code is longer than 16 characters."}
    ),
)
async def read_rules(
    office_code: OfficeCode, principal: Principal, services: Services
) -> ForwardingRulesPublic:
    """Per transmission kind: `automatic` (forward at once) or `check` (hold until forwarded
    by hand). A kind without a rule is forwarded automatically."""
    return ForwardingRulesPublic.of(
        await forwarding_rules(services, principal, office_code=office_code)
    )


@put(
    f"{RULES}/{{kind:str}}",
    tags=TAGS,
    summary="Set a hub's forwarding rule for one kind",
    responses=problem_responses(
        400,
        401,
        403,
        404,
        415,
        details={
            403: "You see the office (an auditor) but only its dispatchers change this.",
            422: "An unknown kind or mode.",
        },
    ),
)
async def change_rule(
    office_code: OfficeCode,
    kind: Annotated[str, Parameter(max_length=32)],
    data: ForwardingRuleChange,
    principal: Principal,
    services: Services,
) -> ForwardingRulesPublic:
    """From the next transmission the hub receives on."""
    return ForwardingRulesPublic.of(
        await forwarding_rules(
            services, principal, office_code=office_code, kind=kind, mode=data.mode
        )
    )


routes = [list_all, read_one, document, document_seal, forward, proof, read_rules, change_rule]
