"""The files a delivery hands out, as responses: the sealed document (a PDF, or a JSON or XML
data document, each served as what it is), a data document's detached seal, and the proof of
delivery. The
API's downloads (bearer token) and the delivery page's links (web session) answer the same.

Every download says what a client can check the bytes against: ``ETag`` (the quoted SHA-256
hex of the file) and ``Repr-Digest: sha-256=:BASE64:`` (RFC 9530, the digest of the whole
file, also on a partial answer). The sealed PDF also answers ``If-None-Match`` (304, nothing
served, nothing recorded) and one byte range (``Range: bytes=first-last``, ``first-`` or
``-suffix``; 206 with ``Content-Range`` and ``Content-Digest`` of the part; 416 beyond the
end). Several ranges, or a malformed ``Range``, are answered with the whole file (RFC 9110
lets a server ignore a Range it does not serve); ``If-Range`` naming another ETag too.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any
from urllib.parse import quote

from litestar import Request, Response

from mailbox.deliveries.data_documents import SEAL_MEDIA_TYPE
from mailbox.deliveries.pickup import DetachedSeal, RangeWanted, SealedDocument
from mailbox.proof.bundle import ProofBundle

__all__ = [
    "digest_headers",
    "document_response",
    "proof_response",
    "range_wanted",
    "seal_response",
    "sha256_not_wanted",
]

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)
_ETAG = re.compile(r'(?:W/)?"([0-9a-f]{64})"')


def digest_headers(sha256_hex: str) -> dict[str, str]:
    """``ETag`` and ``Repr-Digest`` of a file whose SHA-256 is ``sha256_hex``."""
    digest = base64.b64encode(bytes.fromhex(sha256_hex)).decode()
    return {"ETag": f'"{sha256_hex}"', "Repr-Digest": f"sha-256=:{digest}:"}


def sha256_not_wanted(request: Request[Any, Any, Any]) -> frozenset[str]:
    """The SHA-256 values (ETags) of the copies the client holds (``If-None-Match``); a ``*``
    is not honoured (it would answer 304 without saying which copy)."""
    return frozenset(_ETAG.findall(request.headers.get("if-none-match", "")))


def range_wanted(request: Request[Any, Any, Any]) -> RangeWanted | None:
    """The one byte range the request asks for, or None (no Range, several ranges, a
    malformed one: the whole file). An ``If-Range`` makes it conditional on the file's ETag
    (a date there, which we do not compare, never matches: the whole file)."""
    header = request.headers.get("range")
    match = _RANGE.match(header) if header else None
    if match is None:
        return None
    if_range = request.headers.get("if-range")
    condition = None
    if if_range is not None:
        tag = _ETAG.fullmatch(if_range.strip())
        condition = tag.group(1) if tag and not if_range.strip().startswith("W/") else ""
    first, last = match.groups()
    if first:
        if last and int(last) < int(first):
            return None
        return RangeWanted(first=int(first), last=int(last) if last else None, if_sha256=condition)
    return RangeWanted(suffix=int(last), if_sha256=condition) if last else None


def document_response(document: SealedDocument) -> Response[bytes]:
    """The sealed document (PDF, JSON, XML: its own media type) as an attachment (or the
    part of it asked for, 206; or 304 when the client's copy is current), with its digests
    and the evidence its download recorded."""
    headers = {
        **digest_headers(document.sha256),
        "Accept-Ranges": "bytes",
        "Cache-Control": "no-store",
    }
    if document.not_modified:
        return Response(b"", status_code=304, headers=headers)
    headers |= {
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(document.filename)}",
        "X-Content-SHA256": document.sha256,
        "X-Evidence-Type": document.evidence_type,
    }
    status = 200
    if document.served is not None:
        part = base64.b64encode(hashlib.sha256(document.content).digest()).decode()
        served = document.served
        headers["Content-Range"] = f"bytes {served.first}-{served.last}/{served.size}"
        headers["Content-Digest"] = f"sha-256=:{part}:"
        status = 206
    return Response(
        document.content, status_code=status, media_type=document.media_type, headers=headers
    )


def seal_response(seal: DetachedSeal) -> Response[bytes]:
    """A data document's detached CMS seal (DER) as an attachment named ``<document>.p7s``."""
    headers = {
        **digest_headers(seal.sha256),
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(seal.filename)}",
        "Cache-Control": "no-store",
    }
    return Response(seal.content, media_type=SEAL_MEDIA_TYPE, headers=headers)


def proof_response(bundle: ProofBundle, delivery_id: str) -> Response[bytes]:
    """The proof of delivery as a ZIP attachment, naming the pickup it recorded, if any. Its
    ``ETag`` and ``Repr-Digest`` are those of this ZIP: a bundle is built afresh (its receipt
    signed anew) for each request, so there is no 304 for it."""
    headers = {
        **digest_headers(hashlib.sha256(bundle.content).hexdigest()),
        "Content-Disposition": f'attachment; filename="proof-{delivery_id}.zip"',
        "Cache-Control": "no-store",
    }
    if bundle.handover is not None:
        headers["X-Evidence-Type"] = bundle.handover.value
    return Response(bundle.content, media_type="application/zip", headers=headers)
