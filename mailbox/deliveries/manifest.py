"""The manifest of a bulk dispatch: one line per document, read and checked before anything is
dispatched (pure).

A manifest is CSV (a header line naming the columns, UTF-8) or JSON lines (one object per
line). Each line names the recipient account, the document kind, the dossier number, the
title, the file name of its document in the upload (a PDF, or a ``.json`` / ``.xml`` data
document) and the office's own reference, which makes the
line idempotent: it is the item's Idempotency-Key, so a line sent again, in this batch or a
later one, is answered with the delivery its reference made the first time. The column names
of the reference client's push manifest (``python -m mailbox.client push``) are understood
too (:data:`ALIASES`).

:func:`read_manifest` refuses a manifest whose shape is wrong with one
:class:`~mailbox.errors.InvalidRequest` naming every bad line and field (up to
:data:`MAX_REPORTED`): missing or unknown columns, a field that breaks the dispatch's rules, a
reference used twice, a file the upload does not hold. What only the dispatch can tell (an
unknown account, a file that is not an acceptable PDF, a notice that fails its schema) is each
item's own refusal later.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from mailbox.deliveries.dispatch import DOSSIER, KIND_CODE
from mailbox.errors import FieldError, InvalidRequest
from mailbox.formats.lines import Columns, rows

__all__ = [
    "ALIASES",
    "COLUMNS",
    "FORMATS",
    "MAX_REPORTED",
    "ManifestLine",
    "manifest_format",
    "read_manifest",
]

# The columns of a manifest, in the order a CSV header usually names them.
COLUMNS = (
    "recipient_account_id",
    "kind_code",
    "dossier_number",
    "title",
    "filename",
    "office_reference",
)
# Other names of the columns, as the reference client's push manifest names them, so that
# one manifest serves both.
ALIASES = {
    "recipient": "recipient_account_id",
    "kind": "kind_code",
    "file": "filename",
    "reference": "office_reference",
}
FORMATS = ("csv", "jsonl")
# Bad lines named in one problem; a manifest with more is refused naming the first ones.
MAX_REPORTED = 1000
# Printable ASCII without leading or trailing space, as an Idempotency-Key is sent.
REFERENCE = re.compile(r"^[\x21-\x7e](?:[\x20-\x7e]{0,198}[\x21-\x7e])?$")
_LIMITS = {"recipient_account_id": 64, "filename": 255}
_NOT_YET = {
    "document_date": "this service does not record a document date yet; remove the column",
}


_COLUMNS = Columns(COLUMNS, aliases=ALIASES, refused=_NOT_YET, whole="manifest")


@dataclass(frozen=True)
class ManifestLine:
    """One document of the manifest, its fields as given (stripped), and the line it is on."""

    line: int
    recipient_account_id: str
    kind_code: str
    dossier_number: str
    title: str
    filename: str
    office_reference: str


def manifest_format(filename: str | None, declared: str | None = None) -> str:
    """``csv`` or ``jsonl``: as declared, else by the manifest's file name (``.csv``,
    ``.jsonl``/``.ndjson``). :class:`InvalidRequest` when neither says."""
    if declared:
        if declared not in FORMATS:
            raise InvalidRequest(
                f"Unknown manifest format {declared!r}",
                errors=[FieldError("manifest_format", "csv or jsonl")],
            )
        return declared
    name = (filename or "").lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    raise InvalidRequest(
        "Say the manifest's format: name it .csv or .jsonl, or send manifest_format",
        errors=[FieldError("manifest_format", "csv or jsonl")],
    )


def read_manifest(
    data: bytes, fmt: str, *, files: Collection[str], max_items: int
) -> list[ManifestLine]:
    """The lines of the manifest ``data`` in format ``fmt``, each checked, every reference
    unique and every file among ``files`` (the names the upload holds). Raise one
    :class:`InvalidRequest` naming each bad line otherwise."""
    errors: list[FieldError] = []
    lines: list[ManifestLine] = []
    seen: dict[str, int] = {}
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidRequest(
            "The manifest is not UTF-8 text", errors=[FieldError("manifest", "not UTF-8")]
        ) from None
    for number, row in rows(text, fmt, _COLUMNS, errors):
        if len(lines) >= max_items:
            errors.append(FieldError("manifest", f"more than {max_items} lines"))
            break
        line = _checked(number, row, files, seen, errors)
        if line is not None:
            lines.append(line)
        if len(errors) >= MAX_REPORTED:
            break
    if not errors and not lines:
        errors.append(FieldError("manifest", "no lines"))
    if errors:
        shown = errors[:MAX_REPORTED]
        more = " (only the first ones are listed)" if len(errors) >= MAX_REPORTED else ""
        raise InvalidRequest(
            f"The manifest has {len(shown)} problem(s){more}; nothing was dispatched",
            errors=shown,
        )
    return lines


def _checked(
    number: int,
    row: dict[str, str],
    files: Collection[str],
    seen: dict[str, int],
    errors: list[FieldError],
) -> ManifestLine | None:
    values = {name: row[name].strip() for name in COLUMNS}
    where = f"line {number}"
    found: list[FieldError] = []

    def bad(column: str, message: str) -> None:
        found.append(FieldError(f"{where}: {column}", message))

    for column, limit in _LIMITS.items():
        if not values[column]:
            bad(column, "is required")
        elif len(values[column]) > limit:
            bad(column, f"at most {limit} characters")
    if not KIND_CODE.match(values["kind_code"]):
        bad("kind_code", "1-32 letters, digits, '.', '_' or '-'")
    if not DOSSIER.match(values["dossier_number"]):
        bad("dossier_number", "1-64 letters, digits, spaces, '.', '/', '-'")
    if not values["title"] or len(values["title"]) > 500:
        bad("title", "must be 1-500 characters")
    reference = values["office_reference"]
    if not REFERENCE.match(reference):
        bad("office_reference", "1-200 printable ASCII characters")
    elif reference in seen:
        bad("office_reference", f"already used on line {seen[reference]}")
    else:
        seen[reference] = number
    if values["filename"] and values["filename"] not in files:
        bad("filename", f"{values['filename'][:255]!r} is not in the upload")
    if found:
        errors.extend(found)
        return None
    return ManifestLine(line=number, **values)
