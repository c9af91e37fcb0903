"""What the API accepts as a request body, checked before or while it is read.

* A handler's body arrives in the media type it declares, or not at all: JSON handlers take
  ``application/json``, form handlers their form type (:func:`declared_media_type_only`, a
  guard, so the body is refused with 415 before a byte of it is read). A body a browser may
  send cross-site without asking (``text/plain``, a form) never reaches a JSON handler.
* A multipart form's text fields (the parts without a file name) are small and UTF-8:
  :class:`BoundedFormRequest` watches the parts as the body streams in and refuses a text
  field larger than :data:`FORM_FIELD_LIMIT` (413) as soon as it grows past it, and one that is
  not text in its charset (400), before the form is handed to the handler. File parts are
  bounded by the route's body size limit alone.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.enums import RequestEncodingType
from litestar.handlers.base import BaseRouteHandler
from litestar.params import BodyKwarg
from multipart import MultipartError, MultipartSegment, PushMultipartParser

from mailbox.errors import FieldError, MailboxError

__all__ = [
    "FORM_FIELD_LIMIT",
    "BoundedFormRequest",
    "FormFieldTooLarge",
    "MalformedBody",
    "UnsupportedMediaType",
    "declared_media_type_only",
]

# The longest metadata field (a title of 500 characters) takes at most 2,000 bytes of UTF-8.
FORM_FIELD_LIMIT = 4 * 1024


class UnsupportedMediaType(MailboxError):
    status_code = 415
    type = "/problems/unsupported-media-type"
    title = "Unsupported media type"


class FormFieldTooLarge(MailboxError):
    status_code = 413
    type = "/problems/content-too-large"
    title = "Content too large"


class MalformedBody(MailboxError):
    status_code = 400
    type = "/problems/malformed-request"
    title = "Bad request"


def _declared_media_type(handler: BaseRouteHandler) -> str | None:
    """The media type of the handler's ``data`` parameter (JSON unless its ``Body`` says
    otherwise), or ``None`` when it takes no body."""
    data = handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return None
    kwarg = data.kwarg_definition
    media_type = kwarg.media_type if isinstance(kwarg, BodyKwarg) else RequestEncodingType.JSON
    return media_type.value if isinstance(media_type, RequestEncodingType) else str(media_type)


def _has_body(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """Whether the request announces a body (a form posted empty, e.g. a button, has none)."""
    headers = connection.headers
    return "transfer-encoding" in headers or headers.get("content-length", "0").strip() != "0"


def declared_media_type_only(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Guard: a handler that takes a body is sent it in the media type it declares (415
    otherwise). Handlers that take no body ignore what is sent; a request without a body is
    left to the handler's validation."""
    declared = _declared_media_type(handler)
    if declared is None or not _has_body(connection):
        return
    sent = connection.headers.get("content-type", "").partition(";")[0].strip().lower()
    if sent != declared:
        raise UnsupportedMediaType(
            f"This endpoint takes {declared} bodies, not {sent or 'a body without a type'}"
        )


class _TextFieldWatch:
    """Follows a multipart body chunk by chunk and refuses its text fields once too large or
    when they are not text. Malformed multipart is left for litestar's parser to refuse."""

    def __init__(self, boundary: str) -> None:
        self._parser: PushMultipartParser | None = PushMultipartParser(boundary)
        self._segment: MultipartSegment | None = None
        self._text = bytearray()

    def feed(self, chunk: bytes) -> None:
        if self._parser is None or self._parser.closed:
            return
        try:
            for event in self._parser.parse(chunk):
                self._on(event)
        except MultipartError:
            self._parser = None

    def _on(self, event: MultipartSegment | bytes | bytearray | None) -> None:
        if isinstance(event, MultipartSegment):
            self._segment, self._text = event, bytearray()
            return
        segment = self._segment
        if segment is None or segment.filename:
            return
        if event is not None:
            self._text.extend(event)
            if len(self._text) > FORM_FIELD_LIMIT:
                raise FormFieldTooLarge(
                    f"Form field {segment.name!r} exceeds {FORM_FIELD_LIMIT} bytes",
                    errors=[FieldError(segment.name, f"at most {FORM_FIELD_LIMIT} bytes")],
                )
            return
        try:
            bytes(self._text).decode(segment.charset or "utf-8")
        except (LookupError, UnicodeDecodeError):
            raise MalformedBody(
                f"Form field {segment.name!r} is not text in {segment.charset or 'utf-8'}",
                errors=[FieldError(segment.name, "not valid text; send files with a file name")],
            ) from None
        self._segment = None


class BoundedFormRequest(Request[Any, Any, Any]):
    """The request of a multipart route: its text fields are checked as they stream in, so a
    huge or undecodable one is refused before it is held or decoded."""

    async def stream(self) -> AsyncGenerator[bytes, None]:
        media_type, options = self.content_type
        boundary = options.get("boundary")
        watch = (
            _TextFieldWatch(boundary)
            if media_type == RequestEncodingType.MULTI_PART and boundary
            else None
        )
        async for chunk in super().stream():
            if watch is not None:
                watch.feed(chunk)
            yield chunk
