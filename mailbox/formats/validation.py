"""Checking a package manifest and a data notice against their published JSON Schemas, plus
the rules a schema cannot say (a real filing year, one entry per file, an entry date that is
not in the future, documents whose bytes match their announced SHA-256).

Every problem is reported at once, each with the field it is about (``documents[2].sha256``),
so that a sender fixes a manifest in one round.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from mailbox.errors import FieldError, InvalidDocument, InvalidRequest

__all__ = [
    "NOTICE_SCHEMA",
    "PACKAGE_SCHEMA",
    "check_documents",
    "check_notice",
    "check_package",
    "schema",
]

PACKAGE_SCHEMA = "transmission-package-v1.json"
NOTICE_SCHEMA = "national-phase-entry-v1.json"
FIRST_PCT_YEAR = 1978


@cache
def schema(name: str) -> dict[str, Any]:
    """The published JSON Schema ``name`` (as served under ``/schemas/``)."""
    text = resources.files(__package__).joinpath("schemas", name).read_text(encoding="utf-8")
    return json.loads(text)


@cache
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema(name), format_checker=FormatChecker())


def _path(error: ValidationError) -> str:
    where = ""
    for part in error.absolute_path:
        where += f"[{part}]" if isinstance(part, int) else f".{part}"
    return where.lstrip(".") or "$"


def _message(error: ValidationError) -> str:
    if error.validator == "required":
        return error.message.replace(" is a required property", " is required")
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed ", "unknown field ")
    if error.validator == "pattern":
        described = error.schema.get("description")
        return f"{error.instance!r} is not in the expected form" + (
            f" ({described})" if described else ""
        )
    return error.message


def _schema_errors(name: str, document: Any) -> list[FieldError]:
    found = sorted(_validator(name).iter_errors(document), key=lambda e: list(e.absolute_path))
    errors = []
    for error in found:
        if error.validator == "required":
            missing = error.message.split("'")[1]
            where = _path(error)
            errors.append(
                FieldError(missing if where == "$" else f"{where}.{missing}", "is required")
            )
        else:
            errors.append(FieldError(_path(error), _message(error)))
    return errors


def _pct_year(number: Any, field: str, today: date) -> list[FieldError]:
    if not isinstance(number, str) or len(number) != 17:
        return []
    year = int(number[6:10]) if number[6:10].isdigit() else 0
    if FIRST_PCT_YEAR <= year <= today.year + 1:
        return []
    return [FieldError(field, f"{year} is not a filing year of an international application")]


def _raise(title: str, errors: list[FieldError]) -> None:
    if errors:
        raise InvalidRequest(f"{title}: {len(errors)} problem(s)", errors=errors)


def _loaded(raw: bytes | Mapping[str, Any], what: str) -> Any:
    if not isinstance(raw, bytes):
        return raw
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest(
            f"The {what} is not UTF-8 JSON", errors=[FieldError("$", str(exc)[:200])]
        ) from None


def check_package(raw: bytes | Mapping[str, Any], *, today: date) -> dict[str, Any]:
    """The manifest, parsed and checked; ``InvalidRequest`` listing every bad field."""
    manifest = _loaded(raw, "manifest")
    errors = _schema_errors(PACKAGE_SCHEMA, manifest)
    if isinstance(manifest, dict):
        errors += _pct_year(
            manifest.get("international_application_number"),
            "international_application_number",
            today,
        )
        seen: dict[str, int] = {}
        for n, entry in enumerate(manifest.get("documents") or []):
            name = entry.get("file") if isinstance(entry, dict) else None
            if isinstance(name, str) and name in seen:
                errors.append(
                    FieldError(f"documents[{n}].file", f"{name!r} is also documents[{seen[name]}]")
                )
            elif isinstance(name, str):
                seen[name] = n
    _raise("The transmission manifest is invalid", errors)
    return manifest


def check_documents(manifest: Mapping[str, Any], files: Mapping[str, bytes]) -> None:
    """Refuse (``InvalidDocument``) a package whose files are not exactly the manifest's, or a
    file whose bytes do not match its SHA-256."""
    entries: Iterable[Mapping[str, Any]] = manifest["documents"]
    errors = []
    named = set()
    for n, entry in enumerate(entries):
        named.add(entry["file"])
        content = files.get(entry["file"])
        if content is None:
            errors.append(FieldError(f"documents[{n}].file", f"{entry['file']!r} was not sent"))
        elif hashlib.sha256(content).hexdigest() != entry["sha256"]:
            errors.append(
                FieldError(
                    f"documents[{n}].sha256",
                    f"{entry['file']!r} does not match its SHA-256 (changed on the way?)",
                )
            )
    errors += [FieldError(name, "is not in the manifest") for name in sorted(set(files) - named)]
    if errors:
        raise InvalidDocument(
            "The documents do not match the manifest", reason="package_mismatch", errors=errors
        )


def check_notice(raw: bytes | Mapping[str, Any], *, today: date) -> dict[str, Any]:
    """A national-phase entry notice, parsed and checked; ``InvalidRequest`` listing every bad
    field."""
    notice = _loaded(raw, "notice")
    errors = _schema_errors(NOTICE_SCHEMA, notice)
    if isinstance(notice, dict):
        errors += _pct_year(
            notice.get("international_application_number"),
            "international_application_number",
            today,
        )
        entry = notice.get("entry_date")
        if isinstance(entry, str) and not any(e.field == "entry_date" for e in errors):
            try:
                when = datetime.strptime(entry, "%Y-%m-%d").date()
            except ValueError:
                errors.append(FieldError("entry_date", f"{entry!r} is not a date"))
            else:
                if when > today + timedelta(days=1):
                    errors.append(FieldError("entry_date", "is in the future"))
    _raise("The national-phase entry notice is invalid", errors)
    return notice
