"""The domain's errors. Each carries an HTTP-like status code, a stable problem type and a
human ``detail``; the web layer maps them to RFC 9457 problem details in one place and the CLI
prints them. The domain never raises web exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BlobCorrupted",
    "Conflict",
    "ContentGone",
    "DatabaseUnavailable",
    "EvidenceLogBroken",
    "FieldError",
    "IllegalTransition",
    "InsufficientScope",
    "InvalidCursor",
    "InvalidDocument",
    "InvalidRequest",
    "MailboxError",
    "NotAuthenticated",
    "NotFound",
    "PermissionDenied",
    "RangeNotSatisfiable",
    "SchemaNotMigrated",
    "StorageFull",
    "StorageUnavailable",
    "TooManyAttempts",
    "Unavailable",
]


@dataclass(frozen=True)
class FieldError:
    """One bad input field: where it is (``field``) and what is wrong with it."""

    field: str
    message: str


class MailboxError(Exception):
    """Base of all domain errors."""

    status_code = 400
    type = "about:blank"
    title = "Bad request"

    def __init__(self, detail: str, *, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = tuple(errors)
        # Set when the refusal itself was recorded as evidence (SubmissionRejection).
        self.evidence_id: str | None = None


class InvalidRequest(MailboxError):
    status_code = 422
    type = "/problems/invalid-request"
    title = "Invalid request"


class InvalidCursor(MailboxError):
    """A position (cursor) this service did not issue: altered, foreign, truncated."""

    status_code = 400
    type = "/problems/invalid-cursor"
    title = "Invalid cursor"


class InvalidDocument(MailboxError):
    """The uploaded file is not an acceptable PDF (not a PDF, encrypted, malformed, too big)."""

    status_code = 422
    type = "/problems/invalid-document"
    title = "Invalid document"

    def __init__(
        self,
        detail: str,
        *,
        reason: str,
        errors: Sequence[FieldError] = (),
        status: int = 422,
        evidence: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail, errors=errors or (FieldError("file", detail),))
        self.reason = reason
        self.status_code = status
        # What the refusal's SubmissionRejection record keeps besides the reason (e.g. the
        # active content found).
        self.evidence: Mapping[str, Any] = evidence or {}


class NotAuthenticated(MailboxError):
    status_code = 401
    type = "/problems/not-authenticated"
    title = "Not authenticated"


class PermissionDenied(MailboxError):
    status_code = 403
    type = "/problems/forbidden"
    title = "Forbidden"


class InsufficientScope(PermissionDenied):
    """A machine client called a route its scopes do not cover (RFC 6750 ``insufficient_scope``)."""

    type = "/problems/insufficient-scope"
    title = "Insufficient scope"


class NotFound(MailboxError):
    status_code = 404
    type = "/problems/not-found"
    title = "Not found"


class TooManyAttempts(MailboxError):
    """Too many failed attempts in a while: refused without looking at the credentials, for
    ``retry_after`` seconds."""

    status_code = 429
    type = "/problems/too-many-attempts"
    title = "Too many attempts"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Conflict(MailboxError):
    status_code = 409
    type = "/problems/conflict"
    title = "Conflict"


class ContentGone(MailboxError):
    """The content was removed at the end of its retention period: the delivery, its evidence
    and the document's hashes remain, the bytes do not (the detail says when and why)."""

    status_code = 410
    type = "/problems/content-purged"
    title = "Content removed"


class RangeNotSatisfiable(MailboxError):
    """A byte range that lies beyond the end of the document (HTTP 416): nothing is served."""

    status_code = 416
    type = "/problems/range-not-satisfiable"
    title = "Range not satisfiable"

    def __init__(self, detail: str, *, size: int) -> None:
        super().__init__(detail)
        self.size = size


class IllegalTransition(MailboxError):
    """A delivery was asked to move along an arrow its state machine does not have."""

    status_code = 409
    type = "/problems/illegal-transition"
    title = "Illegal state transition"


class BlobCorrupted(MailboxError):
    """Stored bytes failed authentication: they were altered and must never be served."""

    status_code = 500
    type = "/problems/blob-corrupted"
    title = "Stored document failed its integrity check"


class EvidenceLogBroken(MailboxError):
    """The evidence log is not what its checkpoints or its head say (a record missing, a root
    that no longer matches): nothing is signed or proven over it; `audit verify` names why."""

    status_code = 500
    type = "/problems/evidence-log-broken"
    title = "Evidence log broken"


class Unavailable(MailboxError):
    """Our own part failed (disk, database): nothing was done, the same request may be sent
    again after ``retry_after`` seconds, and it never counts against the sender."""

    status_code = 503
    type = "/problems/service-unavailable"
    title = "Service unavailable"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class StorageFull(Unavailable):
    """The blob store has no space left (ENOSPC, EDQUOT): an operator must make room."""

    status_code = 507
    type = "/problems/storage-full"
    title = "Insufficient storage"


class StorageUnavailable(Unavailable):
    """The blob store cannot be written (read-only, permission denied, I/O error)."""

    type = "/problems/storage-unavailable"
    title = "Storage unavailable"


class DatabaseUnavailable(Unavailable):
    """The database kept failing (connection lost, locked) after the use case's retries."""

    type = "/problems/database-unavailable"
    title = "Database unavailable"


class SchemaNotMigrated(MailboxError):
    """The database schema is not at the newest migration."""

    status_code = 503
    type = "/problems/schema-not-migrated"
    title = "Database not migrated"

    def __init__(self, *, current: str | None, head: str | None) -> None:
        where = f"at revision {current}" if current else "not initialised"
        super().__init__(
            f"The database schema is {where}; the code needs {head}. "
            "Run `python -m mailbox db upgrade` first."
        )
        self.current = current
        self.head = head
