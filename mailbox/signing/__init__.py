"""Signing for the mailbox: key material, PDF seals, RFC 3161 timestamps, evidence signatures,
receipts. A pure library over pyHanko and cryptography: it never imports the rest of ``mailbox``.

Names are re-exported lazily: importing ``mailbox.signing.pki`` (for the token keys, say) does
not pay for pyHanko and reportlab, and a sealing worker does not load reportlab.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mailbox.signing.active_content import ActiveContentReport, scan_active_content
    from mailbox.signing.pki import (
        KeyMaterial,
        KeyMaterialMissing,
        create_local_pki,
        load_key_material,
    )
    from mailbox.signing.pool import SealingPool
    from mailbox.signing.receipt import render_receipt
    from mailbox.signing.records import cert_pem, sign_record, verify_record
    from mailbox.signing.seal import (
        PdfInfo,
        PdfRejected,
        SealedDocument,
        Sealer,
        SealValidation,
        inspect_pdf,
        validate_sealed_pdf,
    )
    from mailbox.signing.tsa import (
        TimestampInvalid,
        local_timestamper,
        remote_timestamper,
        timestamp_token,
        token_gen_time,
        verify_timestamp_token,
    )

_HOME = {
    "ActiveContentReport": "active_content",
    "scan_active_content": "active_content",
    "cert_pem": "records",
    "sign_record": "records",
    "verify_record": "records",
    "KeyMaterial": "pki",
    "KeyMaterialMissing": "pki",
    "create_local_pki": "pki",
    "load_key_material": "pki",
    "SealingPool": "pool",
    "render_receipt": "receipt",
    "PdfInfo": "seal",
    "PdfRejected": "seal",
    "SealValidation": "seal",
    "SealedDocument": "seal",
    "Sealer": "seal",
    "inspect_pdf": "seal",
    "validate_sealed_pdf": "seal",
    "TimestampInvalid": "tsa",
    "local_timestamper": "tsa",
    "remote_timestamper": "tsa",
    "timestamp_token": "tsa",
    "token_gen_time": "tsa",
    "verify_timestamp_token": "tsa",
}

__all__ = [
    "ActiveContentReport",
    "KeyMaterial",
    "KeyMaterialMissing",
    "PdfInfo",
    "PdfRejected",
    "SealValidation",
    "SealedDocument",
    "Sealer",
    "SealingPool",
    "TimestampInvalid",
    "cert_pem",
    "create_local_pki",
    "inspect_pdf",
    "load_key_material",
    "local_timestamper",
    "remote_timestamper",
    "render_receipt",
    "scan_active_content",
    "sign_record",
    "timestamp_token",
    "token_gen_time",
    "validate_sealed_pdf",
    "verify_record",
    "verify_timestamp_token",
]


def __getattr__(name: str) -> Any:
    try:
        module = _HOME[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(import_module(f"{__name__}.{module}"), name)
