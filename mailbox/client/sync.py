"""Keeping a folder in step with an inbox: follow the event feed from the stored cursor and,
for each delivery it names, download the sealed PDF once, check it, and put its verified proof
bundle beside it.

A document is kept only when the bytes match the digest the service announced (``Repr-Digest``,
RFC 9530, or ``X-Content-SHA256``), the proof bundle verifies against the root certificate the
user gave (its seal, signatures, timestamps and log inclusion), and the bundle's copy of the
document is byte for byte the one downloaded. Anything else stops the sync with a message and
leaves the cursor before that event, so the next run tries again; nothing is downloaded twice.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from typing import Any

import httpx
from asn1crypto import x509 as asn1_x509

from mailbox.client.connection import ClientError, Connection, problem_text
from mailbox.client.folder import Folder, SyncState, safe_name, write_atomically
from mailbox.proof.check import DATA_DOCUMENTS, DOCUMENT, InputUnreadable, verify_bundle

__all__ = ["SyncReport", "sync"]

PAGE = 100
# Answers that mean "this delivery has no document to fetch", with the word the state keeps.
NO_DOCUMENT = {409: "paper", 410: "purged", 404: "unavailable", 403: "unavailable"}
_REPR_DIGEST = re.compile(r"sha-256=:([A-Za-z0-9+/=]+):")


@dataclass
class SyncReport:
    """What one run did."""

    events: int = 0
    downloaded: int = 0
    skipped: int = 0
    without_document: int = 0


def announced_sha256(response: httpx.Response) -> str:
    """The SHA-256 (hex) the service says the body has; ``ClientError`` when it says none."""
    digest = _REPR_DIGEST.search(response.headers.get("Repr-Digest", ""))
    if digest is not None:
        return base64.b64decode(digest.group(1)).hex()
    legacy = response.headers.get("X-Content-SHA256")
    if legacy:
        return legacy.lower()
    raise ClientError("The service sent the document without a digest to check it against")


def _filename(response: httpx.Response, fallback: str) -> str:
    message = Message()
    message["content-disposition"] = response.headers.get("Content-Disposition", "")
    return safe_name(message.get_filename() or "", fallback)


def _events(connection: Connection, state: SyncState, wait: float) -> Iterator[dict[str, Any]]:
    """Every event after the stored cursor, page by page; the last page may long-poll."""
    while True:
        params: dict[str, Any] = {"limit": PAGE}
        if state.cursor is not None:
            params["after"] = state.cursor
        if wait:
            params["wait"] = wait
        response = connection.request("GET", "/api/v1/events", params=params)
        if response.status_code != 200:
            raise ClientError(f"The event feed answered {problem_text(response)}")
        page = response.json()
        yield from page["items"]
        if len(page["items"]) < PAGE:
            return


def _bundled_document_sha256(bundle: bytes) -> str | None:
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        names = archive.namelist()
        # The sealed PDF, or a data document (document.json, document.xml).
        held = next((n for n in (DOCUMENT, *DATA_DOCUMENTS.values()) if n in names), None)
        if held is None:
            return None
        return hashlib.sha256(archive.read(held)).hexdigest()


def fetch_delivery(
    connection: Connection, folder: Folder, delivery_id: str, root: asn1_x509.Certificate
) -> dict[str, Any]:
    """Download, check and store one delivery's document and proof bundle; what the state
    keeps of it."""
    path = f"/api/v1/deliveries/{delivery_id}"
    document = connection.request("GET", f"{path}/document")
    if document.status_code in NO_DOCUMENT:
        return {"status": NO_DOCUMENT[document.status_code]}
    if document.status_code != 200:
        raise ClientError(f"Downloading {delivery_id} answered {problem_text(document)}")
    sha256 = hashlib.sha256(document.content).hexdigest()
    if sha256 != announced_sha256(document):
        raise ClientError(f"{delivery_id}: the document's bytes do not match their digest")
    proof = connection.request("GET", f"{path}/proof")
    if proof.status_code != 200:
        raise ClientError(f"The proof of {delivery_id} answered {problem_text(proof)}")
    try:
        report = verify_bundle(proof.content, trust_root=root)
    except InputUnreadable as exc:
        raise ClientError(f"The proof of {delivery_id} is unreadable: {exc}") from None
    if not report.ok:
        failed = "; ".join(f.check for f in report.findings if not f.passed)
        raise ClientError(f"The proof of {delivery_id} does not verify: {failed}")
    if _bundled_document_sha256(proof.content) != sha256:
        raise ClientError(f"{delivery_id}: the proof bundle is about another document")
    target = folder.delivery_dir(delivery_id)
    name = _filename(document, f"{delivery_id}.pdf")
    write_atomically(target / name, document.content)
    write_atomically(target / f"proof-{safe_name(delivery_id, 'delivery')}.zip", proof.content)
    return {"document": name, "sha256": sha256, "proof": f"proof-{delivery_id}.zip"}


def sync(
    connection: Connection,
    folder: Folder,
    *,
    root: asn1_x509.Certificate,
    wait: float = 0,
    progress: Callable[[SyncReport], None] | None = None,
) -> SyncReport:
    """Bring ``folder`` up to date with every event after its stored cursor."""
    state = folder.load()
    report = SyncReport()
    for event in _events(connection, state, wait):
        report.events += 1
        delivery_id = event["delivery_id"]
        known = state.deliveries.get(delivery_id)
        if known is not None and ("sha256" in known or known.get("status") != "paper"):
            report.skipped += 1
        else:
            kept = fetch_delivery(connection, folder, delivery_id, root)
            state.deliveries[delivery_id] = kept
            if "sha256" in kept:
                report.downloaded += 1
            else:
                report.without_document += 1
        state.cursor = event["cursor"]
        folder.save(state)
        if progress is not None:
            progress(report)
    return report
