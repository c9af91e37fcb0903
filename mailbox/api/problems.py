"""Every error becomes RFC 9457 ``application/problem+json`` here, and only here: domain errors,
litestar's validation and HTTP errors, and anything unexpected (as a 500 that leaks nothing).

One status per kind of fault, on every route: 400 only for a request that cannot be parsed
(malformed JSON or multipart, a form field that is not text); 422 for a well-formed request
that breaks a rule (a wrong type, an unknown field, a value out of range, a field missing),
whether litestar's types or the domain found it. The token endpoint alone answers 400 for
everything, as RFC 6749 section 5.2 requires (:func:`oauth_invalid_request`).

Our own faults answer what they are, with ``Retry-After``, never a bare 500: a full blob store
507, a blob store that cannot be written or a database that stayed away through the use case's
retries 503; so does a lost database connection outside a use case that retries (a read)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from sqlalchemy.exc import DBAPIError

from mailbox.api.schemas.deliveries import FieldProblem, ProblemDetails
from mailbox.db import DATABASE_RETRY_AFTER, is_transient
from mailbox.errors import (
    DatabaseUnavailable,
    InsufficientScope,
    MailboxError,
    RangeNotSatisfiable,
)

__all__ = [
    "exception_handlers",
    "oauth_invalid_request",
    "problem_response",
    "problem_responses",
]

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("mailbox.api")

_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Invalid request",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
    507: "Insufficient storage",
}


def problem_response(
    status: int,
    detail: str,
    *,
    type_: str = "about:blank",
    title: str | None = None,
    errors: list[FieldProblem] | None = None,
    evidence_id: str | None = None,
    oauth_error: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response[ProblemDetails]:
    body = ProblemDetails(
        type=type_,
        title=title or _TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        errors=errors or [],
        evidence_id=evidence_id,
        error=oauth_error,
    )
    if status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="mailbox"', **(headers or {})}
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _mailbox_error(_: Request[Any, Any, Any], exc: MailboxError) -> Response[ProblemDetails]:
    if exc.status_code >= 500:
        log.error("domain error %s: %s", type(exc).__name__, exc.detail)
    retry_after = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    if isinstance(exc, InsufficientScope):  # RFC 6750 section 3.1
        headers["WWW-Authenticate"] = 'Bearer realm="mailbox", error="insufficient_scope"'
    if isinstance(exc, RangeNotSatisfiable):  # RFC 9110 section 15.5.17
        headers["Content-Range"] = f"bytes */{exc.size}"
    return problem_response(
        exc.status_code,
        exc.detail,
        type_=exc.type,
        title=exc.title,
        errors=[FieldProblem(e.field, e.message) for e in exc.errors],
        evidence_id=exc.evidence_id,
        headers=headers or None,
    )


def _database_error(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[Any]:
    """A lost connection is ours and passes: 503 with Retry-After. Anything else is a bug."""
    if not is_transient(exc):
        return _unexpected(request, exc)
    log.error(
        "database connection lost on %s %s: %s",
        request.method,
        request.url.path,
        type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__,
    )
    return _mailbox_error(
        request,
        DatabaseUnavailable(
            "The database is unavailable; nothing was changed. Retry later.",
            retry_after=DATABASE_RETRY_AFTER,
        ),
    )


def _field_problems(exc: ValidationException) -> list[FieldProblem]:
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            message = str(item.get("message"))
            # msgspec names the field inside its message: "... field `kind_code`", "at `$.x`".
            named = re.search(r"`\$\.(\w+)`|field `(\w+)`", message)
            key = next((g for g in named.groups() if g), None) if named else None
            errors.append(FieldProblem(key or str(item.get("key") or "body"), message))
    return errors


def _validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    # Parsed, but breaks the endpoint's rules: the same 422 the domain answers for its rules.
    return problem_response(
        422,
        "The request breaks this endpoint's rules; `errors` names each bad field",
        type_="/problems/invalid-request",
        errors=_field_problems(exc),
    )


def oauth_invalid_request(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """The token endpoint's answer to a form that breaks its rules: 400 ``invalid_request``
    (RFC 6749 section 5.2), naming each bad field like every other problem."""
    return problem_response(
        400,
        "The token request is missing a field or has a bad one",
        type_="/problems/invalid-request",
        errors=_field_problems(exc),
        oauth_error="invalid_request",
    )


def _http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    # litestar's 400s are bodies it could not parse (malformed JSON, multipart, form).
    type_ = "/problems/malformed-request" if exc.status_code == 400 else "about:blank"
    return problem_response(exc.status_code, exc.detail, type_=type_, headers=exc.headers)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, "An unexpected error occurred; it has been logged")


exception_handlers: dict[Any, Any] = {
    MailboxError: _mailbox_error,
    ValidationException: _validation_error,
    HTTPException: _http_error,
    DBAPIError: _database_error,
    Exception: _unexpected,
}


PROBLEM_RESPONSES_DOC = {
    400: "The request cannot be parsed (malformed JSON or multipart, a field that is not text).",
    401: "No valid access token.",
    403: "You may see this resource but not do this with it.",
    404: "No such resource, or not one you may see.",
    409: "Conflict (Idempotency-Key reused with another body, illegal transition).",
    410: "The content was removed at the end of its retention period; `detail` says when and "
    "why. The delivery, its evidence and the document's SHA-256 remain.",
    413: "The upload exceeds the size limit.",
    415: "The body is not of the media type this endpoint takes.",
    422: "The request is well-formed but breaks a rule (a wrong type, an unknown or missing "
    "field, a value out of range); `errors` names each bad field.",
    503: "Our database or document store is unavailable; nothing was done. Send the same "
    "request again after `Retry-After` seconds (with the same Idempotency-Key).",
    507: "Our document store is full; nothing was done. Send the same request again after "
    "`Retry-After` seconds (with the same Idempotency-Key).",
}

# The problem type each status usually carries (see mailbox.errors), for documentation.
_EXAMPLE_TYPES = {
    400: "/problems/malformed-request",
    401: "/problems/not-authenticated",
    403: "/problems/forbidden",
    404: "/problems/not-found",
    409: "/problems/conflict",
    410: "/problems/content-purged",
    413: "/problems/content-too-large",
    415: "/problems/unsupported-media-type",
    422: "/problems/invalid-request",
    503: "/problems/service-unavailable",
    507: "/problems/storage-full",
}


def problem_responses(
    *statuses: int, details: Mapping[int, str] | None = None
) -> dict[int, ResponseSpec]:
    """OpenAPI entries for a handler's problem responses, e.g. ``problem_responses(401, 404)``;
    ``details`` says more than the usual description about some of them. 400 (unparseable
    request) is always listed: every handler that takes input may answer it."""
    specs = {}
    for status in sorted({400, *statuses, *(details or {})}):
        description = (details or {}).get(status) or PROBLEM_RESPONSES_DOC.get(status, "Error")
        example = ProblemDetails(
            type=_EXAMPLE_TYPES.get(status, "about:blank"),
            title=_TITLES.get(status, "Error"),
            status=status,
            detail=description,
            errors=[FieldProblem("reminder_days", "each day must be 1..60")]
            if status in (400, 422)
            else [],
        )
        specs[status] = ResponseSpec(
            ProblemDetails,
            description=description,
            media_type=PROBLEM_JSON,
            generate_examples=False,
            examples=[Example(summary=example.title, value=msgspec.to_builtins(example))],
        )
    return specs
