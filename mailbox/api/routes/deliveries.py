"""Applicants: the inbox, one delivery, the sealed document (whose first download is the
legal pickup), and the proof of delivery (which holds the document, and then counts as a
pickup, only for those who may pick it up)."""

from __future__ import annotations

from typing import Annotated

from litestar import Request, Response, get
from litestar.datastructures import ResponseHeader
from litestar.openapi import ResponseSpec
from litestar.params import Parameter
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.api.downloads import (
    document_response,
    proof_response,
    range_wanted,
    seal_response,
    sha256_not_wanted,
)
from mailbox.api.problems import problem_responses
from mailbox.api.schemas.deliveries import CursorParam, DeliveryPublic, InboxPublic
from mailbox.api.security import client_address
from mailbox.deliveries import inbox as deliveries_query
from mailbox.deliveries.data_documents import SEAL_MEDIA_TYPE
from mailbox.deliveries.inbox import list_inbox
from mailbox.deliveries.pickup import detached_seal, pick_up
from mailbox.identity.policy import can_pick_up
from mailbox.identity.principal import Principal
from mailbox.proof.bundle import CONTENT_RULE, build_bundle
from mailbox.services import Services

DIGEST_HEADERS = [
    ResponseHeader(
        name="ETag",
        description="The quoted SHA-256 hex of the file served (whole).",
        documentation_only=True,
    ),
    ResponseHeader(
        name="Repr-Digest",
        description="RFC 9530: `sha-256=:BASE64:` of the whole file; compare with the SHA-256 "
        "of the bytes you received.",
        documentation_only=True,
    ),
]


@get(
    "/api/v1/inbox",
    tags=["applicants"],
    summary="Your deliveries, newest first",
    responses=problem_responses(
        400, 401, details={422: "A bad limit or filter, or a cursor this service did not issue."}
    ),
)
async def inbox(
    principal: Principal,
    session: AsyncSession,
    limit: Annotated[int, Parameter(ge=1, le=200, description="Page size.")] = 50,
    cursor: CursorParam | None = None,
    unread: Annotated[bool | None, Parameter(description="Only (not) picked up ones.")] = None,
    dossier_number: Annotated[str | None, Parameter(max_length=64)] = None,
    account_id: Annotated[str | None, Parameter(description="Only this account.")] = None,
) -> InboxPublic:
    """Deliveries made available to the accounts you hold a grant on, keyset-paginated."""
    page = await list_inbox(
        session=session,
        principal=principal,
        limit=limit,
        cursor=cursor,
        unread=unread,
        dossier_number=dossier_number,
        account_id=account_id,
    )
    return InboxPublic(
        [
            DeliveryPublic.of(v, for_addressee=can_pick_up(principal, v.delivery))
            for v in page.items
        ],
        page.next_cursor,
    )


@get(
    "/api/v1/deliveries/{delivery_id:str}",
    tags=["applicants"],
    summary="One delivery",
    responses=problem_responses(401, 404),
)
async def read_delivery(
    delivery_id: str, principal: Principal, session: AsyncSession
) -> DeliveryPublic:
    """Metadata, status and evidence timeline. Other people's deliveries are 404."""
    view, records = await deliveries_query.read_delivery(
        session=session, principal=principal, delivery_id=delivery_id
    )
    return DeliveryPublic.of(view, records, for_addressee=can_pick_up(principal, view.delivery))


@get(
    "/api/v1/deliveries/{delivery_id:str}/document",
    tags=["applicants"],
    summary="Download the sealed document (the first download is the legal pickup)",
    media_type="application/pdf",
    response_description="The sealed document: a PDF (`application/pdf`, sealed inside), or a "
    "data document (`application/json`, stored as canonical JSON; `application/xml`, stored as "
    "sent) whose detached seal is at `seal_url`.",
    response_headers=DIGEST_HEADERS,
    responses={
        **problem_responses(
            401,
            404,
            410,
            details={
                416: "The range starts beyond the end of the document (`Content-Range: "
                "bytes */SIZE` says its size); nothing is served or recorded.",
                500: "The stored document failed its integrity check; it is never served.",
            },
        ),
        206: ResponseSpec(
            None,
            description="The byte range asked for (`Range: bytes=first-last`, `first-` or "
            "`-suffix`), with `Content-Range` and `Content-Digest` (of the part); `ETag` and "
            "`Repr-Digest` stay those of the whole PDF.",
            media_type="application/pdf",
        ),
        304: ResponseSpec(
            None,
            description="`If-None-Match` names this PDF's ETag: your copy is current. Nothing "
            "is served or recorded.",
        ),
    },
)
async def download_document(
    delivery_id: str, request: Request, principal: Principal, services: Services
) -> Response[bytes]:
    """Streams the sealed document as what it is (`document.media_type`: a PDF, or a JSON or
    XML data document, named with its suffix). The first download by anyone holding a
    grant on the account records ContentHandover (who, when, from which address); later ones
    ContentAccess. The first answer carrying any content is the pickup, a byte range too (its
    evidence names the range and the SHA-256 of the bytes served): fetching a document in
    several ranges records one ContentHandover, then a ContentAccess per range. Check what you
    received against `Repr-Digest` (`sha-256=:BASE64:`, RFC 9530, of the whole file); `ETag`
    is its quoted SHA-256 hex. Once the content's retention period has passed it is removed,
    and this answers 410 Gone."""
    document = await pick_up(
        services,
        principal,
        delivery_id,
        ip=client_address(request),
        unless_sha256=sha256_not_wanted(request),
        wanted=range_wanted(request),
    )
    return document_response(document)


@get(
    "/api/v1/deliveries/{delivery_id:str}/document/seal",
    tags=["applicants"],
    summary="Download the detached seal of a data document (JSON, XML)",
    media_type=SEAL_MEDIA_TYPE,
    response_description="The detached CMS seal (DER, CAdES, RFC 3161 timestamped) over the "
    "bytes of the document as served, named `<document>.p7s`.",
    response_headers=DIGEST_HEADERS,
    responses=problem_responses(
        401, 404, details={404: "No such delivery for you, or its document is a PDF."}
    ),
)
async def download_seal(
    delivery_id: str, principal: Principal, services: Services
) -> Response[bytes]:
    """The detached seal of a JSON or XML document, for those who may pick the document up
    (like the document). It holds no content, only the document's signed and timestamped
    digest, so fetching it is not recorded and it remains after the content was purged.
    Check it offline: `openssl cms -verify -binary -inform DER -in notice.json.p7s -content
    notice.json -CAfile root.pem -purpose any`. A PDF carries its seal inside it (404)."""
    return seal_response(await detached_seal(services, principal, delivery_id))


@get(
    "/api/v1/deliveries/{delivery_id:str}/proof",
    tags=["applicants"],
    summary="Download the proof of delivery (ZIP), verifiable offline with the root certificate",
    media_type="application/zip",
    response_headers=DIGEST_HEADERS,
    description=f"{CONTENT_RULE} Verify it with "
    "`python -m mailbox audit verify-bundle proof.zip --root root.pem`.",
    response_description="A ZIP: the evidence records with their signatures, timestamp tokens "
    "and inclusion proofs, the signed log checkpoint covering them, the certificates, a sealed "
    "receipt PDF, a README on verifying it, and the sealed PDF for the account's people.",
    responses=problem_responses(401, 404),
)
async def download_proof(
    delivery_id: str, request: Request, principal: Principal, services: Services
) -> Response[bytes]:
    bundle = await build_bundle(services, principal, delivery_id, ip=client_address(request))
    return proof_response(bundle, delivery_id)
