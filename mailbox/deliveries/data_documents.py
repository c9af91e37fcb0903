"""Data documents: a dispatch may carry JSON or XML instead of a PDF (a national-phase entry
notice, a package of a transmission). What is stored and sealed is decided here, once:

- JSON is parsed and stored as its canonical bytes (RFC 8785 for the values we accept, see
  :func:`mailbox.signing.detached.canonical_json`), so that anyone re-serialising the same
  document gets the same bytes and the same hash. Duplicate keys, numbers with a fraction and
  nesting deeper than :data:`MAX_DEPTH` are refused: each would make two readers see two
  different documents. A document of kind :data:`NOTICE_KIND` must be a valid
  national-phase entry notice (its published JSON Schema).
- XML is stored as sent, after a check that it is well-formed and declares no document type
  (no DTD: no entity expansion, no external entities).

Both are sealed with a detached CMS seal (CAdES, RFC 3161 timestamp) over the stored bytes,
verifiable offline with any CMS tool and the service's root certificate. Pure: no database.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import PurePosixPath
from typing import Any
from xml.parsers import expat

from mailbox.errors import InvalidDocument
from mailbox.formats.validation import check_notice
from mailbox.signing.detached import DetachedSealInvalid, canonical_json

__all__ = [
    "DATA_MEDIA_TYPES",
    "JSON",
    "MAX_DEPTH",
    "MEDIA_TYPES",
    "NOTICE_KIND",
    "PDF",
    "SEAL_MEDIA_TYPE",
    "XML",
    "data_content",
    "document_words",
    "download_filename",
    "is_data",
    "media_type_for",
    "readable_fields",
    "seal_filename",
]

PDF = "application/pdf"
JSON = "application/json"
XML = "application/xml"
DATA_MEDIA_TYPES = (JSON, XML)
MEDIA_TYPES = (PDF, *DATA_MEDIA_TYPES)
# The document kind whose JSON documents are national-phase entry notices (PCT Rule 95.1).
NOTICE_KIND = "national-phase-entry"
MAX_DEPTH = 32
# What a detached seal is served as (RFC 5751's name for a detached CMS signature).
SEAL_MEDIA_TYPE = "application/pkcs7-signature"
_SUFFIX = {PDF: ".pdf", JSON: ".json", XML: ".xml"}
# The national-phase notice's fields in the order people read them, with their names.
_NOTICE_LABELS = (
    ("international_application_number", "International application number"),
    ("designated_office", "Designated office"),
    ("national_application_number", "National application number"),
    ("entry_date", "Entry date"),
    ("status", "Status"),
    ("applicant_reference", "Applicant reference"),
)
_MAX_ROWS = 200
_ALIASES = {"text/xml": XML, "text/json": JSON}
_BY_SUFFIX = {".pdf": PDF, ".json": JSON, ".xml": XML}
_DOCTYPE = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def is_data(media_type: str) -> bool:
    """Whether documents of ``media_type`` are data documents (detached seal), not PDFs."""
    return media_type in DATA_MEDIA_TYPES


def media_type_for(filename: str, declared: str | None = None) -> str:
    """The media type of an uploaded file: the one declared (parameters dropped; a generic
    ``application/octet-stream`` counts as not declared), or else the one its name's suffix
    says; a PDF when neither says. A type we do not carry comes back as it is, for the
    dispatch to refuse (and record) like any other bad field."""
    stated = (declared or "").split(";")[0].strip().lower()[:64]
    stated = _ALIASES.get(stated, stated)
    if stated in ("", "application/octet-stream"):
        stated = _BY_SUFFIX.get(PurePosixPath(filename or "").suffix.lower(), PDF)
    return stated


def seal_filename(filename: str) -> str:
    """The name the detached seal of ``filename`` goes by (``notice.json.p7s``)."""
    return f"{filename}.p7s"


def download_filename(filename: str, media_type: str) -> str:
    """The name a document is served under: its stored name, with the suffix of what it is
    (``notice.json``; a JSON notice sent without a name, stored as ``document.pdf``, is served
    as ``document.json``), so that the file opens in the right program."""
    suffix = _SUFFIX.get(media_type)
    if suffix is None:
        return filename
    path = PurePosixPath(filename or "document")
    if path.suffix.lower() == suffix:
        return filename
    if path.suffix.lower() in _BY_SUFFIX:
        return f"{filename[: -len(path.suffix)]}{suffix}"
    return f"{filename}{suffix}"


def document_words(media_type: str, kind_code: str = "") -> str:
    """What a document is, in the words pages use: "sealed PDF", "JSON notice", ..."""
    if media_type == JSON:
        return "JSON notice" if kind_code == NOTICE_KIND else "JSON document"
    if media_type == XML:
        return "XML document"
    return "sealed PDF"


def readable_fields(content: bytes, media_type: str, *, kind_code: str) -> list[tuple[str, str]]:
    """A data document's fields as rows for people to read (name, value): a national-phase
    notice's six fields by their names; another JSON object's members (nested values as
    compact JSON); an XML document's elements that hold text, by their path. At most
    :data:`_MAX_ROWS` rows; the stored bytes stay the document, this is only a view of them."""
    if media_type == JSON:
        document = json.loads(content)
        if kind_code == NOTICE_KIND and isinstance(document, dict):
            return [(label, str(document[key])) for key, label in _NOTICE_LABELS if key in document]
        if isinstance(document, dict):
            return [
                (key, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
                for key, value in list(document.items())[:_MAX_ROWS]
            ]
        return [("Document", json.dumps(document, ensure_ascii=False)[:10_000])]
    if media_type == XML:
        return _xml_rows(content)
    raise ValueError(f"{media_type} is not a data document")


def _xml_rows(content: bytes) -> list[tuple[str, str]]:
    """The elements of a stored XML document that hold text, by path (``notice/status``):
    read with expat (stored XML was checked to declare no DTD or entities)."""
    rows: list[tuple[str, str]] = []
    path: list[str] = []
    text: list[list[str]] = []

    def start(name: str, _attributes: dict[str, str]) -> None:
        path.append(name)
        text.append([])

    def end(_name: str) -> None:
        value = "".join(text.pop()).strip()
        if value and len(rows) < _MAX_ROWS:
            rows.append(("/".join(path), value))
        path.pop()

    def characters(data: str) -> None:
        if text:
            text[-1].append(data)

    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartElementHandler, parser.EndElementHandler = start, end
    parser.CharacterDataHandler = characters
    parser.Parse(content, True)
    return rows


def data_content(content: bytes, media_type: str, *, kind_code: str, today: date) -> bytes:
    """The bytes of a data document to store and seal; ``InvalidDocument`` (422) for content
    that is not what it says, ``InvalidRequest`` naming each bad field of a notice."""
    if media_type == JSON:
        document = _json(content)
        if kind_code == NOTICE_KIND:
            check_notice(document, today=today)
        try:
            return canonical_json(document)
        except DetachedSealInvalid as exc:
            raise InvalidDocument(str(exc), reason="not_canonical_json") from None
    if media_type == XML:
        _check_xml(content)
        return content
    raise ValueError(f"{media_type} is not a data document")


def _json(content: bytes) -> Any:
    try:
        document = json.loads(content.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError:
        raise InvalidDocument("The JSON document is not UTF-8", reason="not_json") from None
    except RecursionError:
        raise InvalidDocument(
            f"The JSON document is nested deeper than {MAX_DEPTH} levels", reason="not_json"
        ) from None
    except ValueError as exc:
        raise InvalidDocument(f"The document is not JSON: {exc}"[:300], reason="not_json") from None
    if _depth(document) > MAX_DEPTH:
        raise InvalidDocument(
            f"The JSON document is nested deeper than {MAX_DEPTH} levels", reason="not_json"
        )
    return document


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"the key {key!r} appears twice in one object")
        seen[key] = value
    return seen


def _depth(value: Any) -> int:
    deepest, level, stack = 0, 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    return deepest


def _check_xml(content: bytes) -> None:
    if _DOCTYPE.search(content):
        raise InvalidDocument(
            "The XML document declares a document type or entities; they are not accepted",
            reason="xml_doctype",
        )
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(content, True)
    except expat.ExpatError as exc:
        raise InvalidDocument(
            f"The document is not well-formed XML: {exc}", reason="not_xml"
        ) from None
