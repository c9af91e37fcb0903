"""Receiving a bulk dispatch: a multipart body streamed to disk part by part.

The body is parsed as it arrives (``multipart``'s push parser), never held: the ``manifest``
file part, and either one ``archive`` (a ZIP) or ``files`` parts (the documents: PDFs,
``.json`` or ``.xml``, each named by its file name), go chunk by chunk into the batch's
upload directory (:class:`~mailbox.deliveries.batch_files.BatchUpload`, which refuses a part
or a body past its limit with 413 as soon as it grows past it). Text fields are small and
UTF-8, as on every form (:data:`~mailbox.api.bodies.FORM_FIELD_LIMIT`). ``before_files``
sees the text fields sent before the first file part (a page checks its form token there,
before receiving documents).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from typing import Any

from litestar import Request
from multipart import MultipartError, MultipartSegment, PushMultipartParser

from mailbox.api.bodies import (
    FORM_FIELD_LIMIT,
    FormFieldTooLarge,
    MalformedBody,
    UnsupportedMediaType,
)
from mailbox.deliveries.batch_files import BatchUpload
from mailbox.errors import FieldError, InvalidRequest

__all__ = ["FILE_PARTS", "receive_upload"]

# The names of the file parts a bulk dispatch takes.
FILE_PARTS = ("manifest", "archive", "files")
_TEXT_FIELDS = ("office_id", "manifest_format", "csrf_token")


async def receive_upload(
    request: Request[Any, Any, Any],
    upload: BatchUpload,
    *,
    before_files: Callable[[Mapping[str, str]], None] | None = None,
) -> dict[str, str]:
    """Stream the request's multipart body into ``upload``; return its text fields. 415 for
    another media type, 400 for a malformed body, 413 past a limit, 422 for an unknown part."""
    media_type, options = request.content_type
    boundary = options.get("boundary")
    if media_type != "multipart/form-data" or not boundary:
        raise UnsupportedMediaType(
            f"This endpoint takes multipart/form-data bodies, not {media_type or 'none'}"
        )
    receiver = _Receiver(upload, before_files)
    try:
        parser = PushMultipartParser(boundary, max_segment_count=upload.total_limit)
        async for chunk in request.stream():
            if chunk:
                receiver.feed(parser.parse(chunk))
        receiver.feed(parser.parse(b""))
        if not parser.closed:
            raise MultipartError("the body ended inside a part")
    except MultipartError as exc:
        raise MalformedBody(f"The multipart body is malformed: {exc}") from None
    upload.close_parts()
    return receiver.fields


class _Nothing:
    """Where the body of an empty file input goes."""

    def write(self, chunk: bytes) -> None:
        if chunk.strip():
            raise InvalidRequest(
                "A file part has no file name", errors=[FieldError("files", "no file name")]
            )

    def close(self) -> None:
        pass


class _Receiver:
    def __init__(
        self, upload: BatchUpload, before_files: Callable[[Mapping[str, str]], None] | None
    ) -> None:
        self.upload = upload
        self.before_files = before_files
        self.fields: dict[str, str] = {}
        self._segment: MultipartSegment | None = None
        self._text = bytearray()
        self._part: Any = None
        self._files_started = False

    def feed(self, events: Any) -> None:
        for event in events:
            if isinstance(event, MultipartSegment):
                self._start(event)
            elif event is None:
                self._end()
            elif self._part is not None:
                self._part.write(bytes(event))
            else:
                self._text.extend(event)
                if len(self._text) > FORM_FIELD_LIMIT:
                    name = self._segment.name if self._segment else "field"
                    raise FormFieldTooLarge(
                        f"Form field {name!r} exceeds {FORM_FIELD_LIMIT} bytes",
                        errors=[FieldError(name, f"at most {FORM_FIELD_LIMIT} bytes")],
                    )

    def _start(self, segment: MultipartSegment) -> None:
        self._segment, self._text, self._part = segment, bytearray(), None
        if segment.filename is None:
            if segment.name not in _TEXT_FIELDS:
                raise InvalidRequest(
                    f"Unknown field {segment.name!r}",
                    errors=[FieldError(segment.name, "unknown field")],
                )
            return
        if not segment.filename:
            self._part = _Nothing()  # a file input left empty: browsers send it without a name
            return
        if not self._files_started:
            self._files_started = True
            if self.before_files is not None:
                self.before_files(self.fields)
        if segment.name == "manifest":
            self._part = self.upload.manifest(segment.filename)
        elif segment.name == "archive":
            self._part = self.upload.archive()
        elif segment.name == "files":
            # The manifest names a document part by its file name, without any folder a
            # browser adds; the name's suffix (.pdf, .json, .xml) says what it is.
            name = posixpath.basename(segment.filename.replace("\\", "/"))
            self._part = self.upload.document(name)
        else:
            raise InvalidRequest(
                f"Unknown file part {segment.name!r}",
                errors=[FieldError(segment.name, "send manifest, archive or files")],
            )

    def _end(self) -> None:
        segment = self._segment
        if segment is not None and self._part is None:
            try:
                self.fields[segment.name] = bytes(self._text).decode(segment.charset or "utf-8")
            except (LookupError, UnicodeDecodeError):
                raise MalformedBody(
                    f"Form field {segment.name!r} is not text",
                    errors=[FieldError(segment.name, "not valid text")],
                ) from None
        elif self._part is not None:
            self._part.close()
        self._segment, self._part = None, None
