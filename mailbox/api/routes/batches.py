"""Offices: bulk dispatch. One upload (a manifest and its documents: PDFs, JSON or XML data
documents such as national-phase entry notices) becomes a batch whose items
are dispatched in the background; the batch shows its progress and each item its result.

The upload is refused before its body is read when the caller is not authenticated (401) or
dispatches for no office (403); while it streams to disk when a part or the whole grows past
its limit (413); after it is stored when the manifest's shape is wrong (422, one problem
naming every bad line), and then nothing is queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from litestar import Request, Response, get, post
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import Parameter
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.api.batch_uploads import receive_upload
from mailbox.api.problems import problem_responses
from mailbox.api.schemas.batches import (
    BatchItemPublic,
    BatchItemsPublic,
    BatchListPublic,
    BatchPublic,
)
from mailbox.api.schemas.deliveries import CursorParam, LimitParam
from mailbox.api.security import may_dispatch
from mailbox.deliveries.batches import (
    create_batch,
    list_batches,
    list_items,
    new_upload,
    read_batch,
)
from mailbox.deliveries.manifest import COLUMNS
from mailbox.identity.policy import dispatch_office
from mailbox.identity.principal import Principal
from mailbox.services import Services

__all__ = ["routes", "upload_batch"]

_UPLOAD_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["manifest"],
    additional_properties=False,
    properties={
        "manifest": Schema(
            type=OpenAPIType.STRING,
            format="binary",
            description="CSV (a header line) or JSON lines, one document per line, with the "
            f"fields {', '.join(COLUMNS)}. Its file name (.csv, .jsonl) or manifest_format "
            "says which. office_reference is the item's Idempotency-Key: unique per office, "
            "a line sent again (in any batch) answers with the delivery it made first.",
        ),
        "archive": Schema(
            type=OpenAPIType.STRING,
            format="binary",
            description="A ZIP holding the documents under the manifest's file names (a "
            "name ending .json or .xml is a data document, any other a PDF); or send them as "
            "file parts instead.",
        ),
        "files": Schema(
            type=OpenAPIType.ARRAY,
            items=Schema(type=OpenAPIType.STRING, format="binary"),
            description="The documents as file parts, each named by its file name (each at "
            "most MAILBOX_UPLOAD_LIMIT_BYTES).",
        ),
        "manifest_format": Schema(type=OpenAPIType.STRING, enum=["csv", "jsonl"]),
        "office_id": Schema(
            type=OpenAPIType.STRING,
            description="The office you dispatch as; needed only when you dispatch for several.",
        ),
    },
)


@dataclass
class _UploadOperation(Operation):
    """The upload's body is read as a stream, not by a parameter: its schema is stated here."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            content={"multipart/form-data": OpenAPIMediaType(schema=_UPLOAD_SCHEMA)},
            required=True,
            description="The manifest and its documents (a ZIP or file parts), streamed to disk.",
        )


@post(
    "/api/v1/dispatch-batches",
    tags=["offices"],
    summary="Dispatch many documents (PDFs, JSON or XML notices) in one upload",
    status_code=202,
    guards=[may_dispatch],
    operation_class=_UploadOperation,
    responses=problem_responses(
        401,
        403,
        413,
        415,
        422,
        details={
            400: "The multipart body is malformed, or a text field is not UTF-8.",
            403: "You dispatch for no office, or not for the one named.",
            413: "A document exceeds MAILBOX_UPLOAD_LIMIT_BYTES (a part, or an entry of the ZIP, "
            "each named), or the upload exceeds MAILBOX_BATCH_UPLOAD_LIMIT_BYTES.",
            415: "The body is not multipart/form-data.",
            422: "The manifest's shape is wrong: `errors` names each bad line and field (a "
            "missing or unknown column, a bad value, an office reference used twice, a file "
            "the upload does not hold). Nothing was queued.",
        },
    ),
)
async def upload_batch(
    request: Request, principal: Principal, services: Services
) -> Response[BatchPublic]:
    """Store the upload, check its manifest and queue its items; they are dispatched in the
    background, each exactly as `POST /api/v1/dispatches` would (sealed, evidenced, alerted,
    or sent to paper). Follow the batch at `Location`."""
    upload = new_upload(services)
    try:
        fields = await receive_upload(request, upload)
        batch = await create_batch(
            services,
            upload,
            office_id=dispatch_office(principal, fields.get("office_id") or None),
            actor=principal.actor,
            declared_format=fields.get("manifest_format") or None,
        )
    except BaseException:
        upload.discard()
        raise
    return Response(
        BatchPublic.of(batch),
        status_code=202,
        headers={"Location": f"/api/v1/dispatch-batches/{batch.id}"},
    )


@get(
    "/api/v1/dispatch-batches",
    tags=["offices"],
    summary="Your offices' bulk dispatches, newest first",
    responses=problem_responses(401, 422),
)
async def batches(
    principal: Principal,
    session: AsyncSession,
    limit: LimitParam = 25,
    cursor: CursorParam | None = None,
) -> BatchListPublic:
    """The batches of the offices you dispatch for or audit, keyset-paginated."""
    page = await list_batches(session=session, principal=principal, limit=limit, cursor=cursor)
    return BatchListPublic([BatchPublic.of(b) for b in page.items], page.next_cursor)


@get(
    "/api/v1/dispatch-batches/{batch_id:str}",
    tags=["offices"],
    summary="A bulk dispatch and its progress",
    responses=problem_responses(401, 404),
)
async def batch(batch_id: str, principal: Principal, session: AsyncSession) -> BatchPublic:
    """Status and counts (accepted, refused, pending) of a batch of your office."""
    return BatchPublic.of(await read_batch(session=session, principal=principal, batch_id=batch_id))


@get(
    "/api/v1/dispatch-batches/{batch_id:str}/items",
    tags=["offices"],
    summary="The results of a bulk dispatch, line by line",
    responses=problem_responses(401, 404, 422),
)
async def batch_items(
    batch_id: str,
    principal: Principal,
    session: AsyncSession,
    limit: Annotated[int, Parameter(ge=1, le=200, description="Page size (1-200).")] = 100,
    cursor: CursorParam | None = None,
    status: Annotated[
        Literal["pending", "accepted", "refused"] | None,
        Parameter(description="Only items in this status."),
    ] = None,
) -> BatchItemsPublic:
    """Each manifest line in order: accepted with its delivery id, refused with its problem,
    or pending; keyset-paginated."""
    page = await list_items(
        session=session,
        principal=principal,
        batch_id=batch_id,
        limit=limit,
        cursor=cursor,
        status=status,
    )
    return BatchItemsPublic([BatchItemPublic.of(i) for i in page.items], page.next_cursor)


routes = [batches, batch, batch_items]
