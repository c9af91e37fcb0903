"""Keyset pagination shared by every list: a bounded ``limit`` and an opaque cursor naming the
last row of the page before (its time and id), so pages stay stable while rows are added."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime

from mailbox.clock import to_utc
from mailbox.errors import FieldError, InvalidRequest

__all__ = ["MAX_LIMIT", "check_limit", "check_page", "decode_cursor", "encode_cursor"]

MAX_LIMIT = 200

# A cursor this service issues is about 80 characters; anything much longer is not one of ours
# and is refused before it is decoded (deeply nested JSON would otherwise exhaust the stack).
_MAX_CURSOR_LENGTH = 256
_ROW_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def check_limit(limit: int) -> None:
    """Refuse a page size outside 1..MAX_LIMIT."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(
            f"limit must be between 1 and {MAX_LIMIT}",
            errors=[FieldError("limit", f"1..{MAX_LIMIT}")],
        )


def check_page(limit: int, cursor: str | None) -> None:
    """Refuse a bad page size or a cursor this service did not issue, before any other work
    (so that a bad cursor is refused alike whether or not the list would be empty)."""
    check_limit(limit)
    if cursor:
        decode_cursor(cursor)


def encode_cursor(at: datetime, row_id: str) -> str:
    """The cursor that continues after the row (``at``, ``row_id``)."""
    raw = json.dumps([at.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (time, id) a cursor names; :class:`InvalidRequest` for anything this service did not
    issue (too long, bad base64, not UTF-8, not JSON, wrong shape or types, impossible times)."""
    try:
        if len(cursor) > _MAX_CURSOR_LENGTH:
            raise ValueError("cursor too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw.decode("utf-8"))
        if not isinstance(decoded, list) or len(decoded) != 2:
            raise ValueError("cursor is not a pair")
        at, row_id = decoded
        if not isinstance(at, str) or not isinstance(row_id, str):
            raise ValueError("cursor parts are not strings")
        if not _ROW_ID.fullmatch(row_id):
            raise ValueError("cursor id is not an id")
        return to_utc(datetime.fromisoformat(at)), row_id
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise InvalidRequest(
            "The cursor is not one this service issued",
            errors=[FieldError("cursor", "malformed")],
        ) from exc
