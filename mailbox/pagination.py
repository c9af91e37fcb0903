"""Keyset pagination shared by every list: a bounded ``limit`` and an opaque cursor naming the
last row of the page before (its time and id), so pages stay stable while rows are added."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from mailbox.clock import to_utc
from mailbox.errors import FieldError, InvalidRequest

__all__ = ["MAX_LIMIT", "check_limit", "decode_cursor", "encode_cursor"]

MAX_LIMIT = 200


def check_limit(limit: int) -> None:
    """Refuse a page size outside 1..MAX_LIMIT."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(
            f"limit must be between 1 and {MAX_LIMIT}",
            errors=[FieldError("limit", f"1..{MAX_LIMIT}")],
        )


def encode_cursor(at: datetime, row_id: str) -> str:
    """The cursor that continues after the row (``at``, ``row_id``)."""
    raw = json.dumps([at.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (time, id) a cursor names; :class:`InvalidRequest` for one this service did not issue."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, row_id = json.loads(raw)
        return to_utc(datetime.fromisoformat(at)), str(row_id)
    except (ValueError, TypeError) as exc:
        raise InvalidRequest(
            "The cursor is not one this service issued",
            errors=[FieldError("cursor", "malformed")],
        ) from exc
