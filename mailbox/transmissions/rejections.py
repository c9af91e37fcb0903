"""A transmission as its sender sent it, and the record of a refused one: the
SubmissionRejection that every refusal which reached us leaves, and nothing else (as a refused
dispatch does, :func:`mailbox.deliveries.dispatch.record_rejection`)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mailbox.errors import InvalidDocument, MailboxError
from mailbox.evidence import log as evidence
from mailbox.evidence.log import EvidenceDraft, EvidenceType
from mailbox.services import Services

__all__ = ["TransmissionRequest", "record_rejection"]

log = logging.getLogger("mailbox.transmissions")


@dataclass(frozen=True)
class TransmissionRequest:
    """A package as the sending office sends it: the manifest's bytes, the documents by file
    name, and the hub to route it through (its code), if any."""

    office_id: str
    manifest: bytes
    files: Mapping[str, bytes]
    via: str | None = None

    def fingerprint(self) -> str:
        """Hash of everything that makes two requests the same transmission."""
        parts = [self.office_id, hashlib.sha256(self.manifest).hexdigest(), self.via or ""]
        parts += [
            f"{name}={hashlib.sha256(self.files[name]).hexdigest()}" for name in sorted(self.files)
        ]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


async def record_rejection(
    services: Services,
    request: TransmissionRequest,
    error: MailboxError,
    *,
    actor: str,
    actor_ip: str | None,
) -> str:
    """Write the SubmissionRejection record for a refused transmission; return its id."""
    manifest = _readable(request.manifest)
    details: dict[str, Any] = {
        "office_id": request.office_id,
        "transmission": True,
        "via": (request.via or "")[:16] or None,
        **{
            name: str(manifest[name])[:64]
            for name in ("kind", "international_application_number", "sender", "final_recipient")
            if name in manifest
        },
        "reason": error.detail,
        "errors": [{"field": e.field, "message": e.message} for e in error.errors],
        "received_files": len(request.files),
        "received_bytes": len(request.manifest) + sum(len(c) for c in request.files.values()),
    }
    if isinstance(error, InvalidDocument):
        details["document_reason"] = error.reason
        details.update(error.evidence)
    log.info("transmission refused: %s", error.detail[:500], extra={"office_id": request.office_id})
    async with services.db.write() as session:
        record = await evidence.append(
            session,
            services.evidence,
            EvidenceDraft(EvidenceType.SUBMISSION_REJECTION, actor, actor_ip, details),
            delivery_id=None,
            original_sha256=hashlib.sha256(request.manifest).hexdigest(),
        )
        return record.id


def _readable(manifest: bytes) -> dict[str, Any]:
    """The manifest's top-level fields if it is a JSON object at all (for the rejection
    record), else nothing."""
    try:
        parsed = json.loads(manifest.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}
