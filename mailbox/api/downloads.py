"""The files a delivery hands out, as responses: the sealed PDF and the proof of delivery. The
API's downloads (bearer token) and the delivery page's links (web session) answer the same."""

from __future__ import annotations

from urllib.parse import quote

from litestar import Response

from mailbox.deliveries.pickup import SealedDocument
from mailbox.proof.bundle import ProofBundle

__all__ = ["document_response", "proof_response"]


def document_response(document: SealedDocument) -> Response[bytes]:
    """The sealed PDF as an attachment, with its hash and the evidence its download recorded."""
    return Response(
        document.content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(document.filename)}",
            "X-Content-SHA256": document.sha256,
            "X-Evidence-Type": document.evidence_type,
            "Cache-Control": "no-store",
        },
    )


def proof_response(bundle: ProofBundle, delivery_id: str) -> Response[bytes]:
    """The proof of delivery as a ZIP attachment, naming the pickup it recorded, if any."""
    headers = {
        "Content-Disposition": f'attachment; filename="proof-{delivery_id}.zip"',
        "Cache-Control": "no-store",
    }
    if bundle.handover is not None:
        headers["X-Evidence-Type"] = bundle.handover.value
    return Response(bundle.content, media_type="application/zip", headers=headers)
