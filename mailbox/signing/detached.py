"""Detached seals over data documents (a national-phase notice, a package manifest): the same
seal key and RFC 3161 timestamp as a sealed PDF, as a detached CMS ``SignedData`` (CAdES-style)
over the document's canonical JSON bytes, so that anyone holding the root certificate can
verify it offline with any CMS tool.

Canonical JSON here is RFC 8785 for the documents we seal: objects with sorted keys, no
insignificant whitespace, UTF-8, and only strings, integers, booleans, null, arrays and objects
(floats are refused rather than canonicalised, since their text form differs between
implementations).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asn1crypto import cms, x509
from pyhanko.sign.signers import SimpleSigner
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation.generic_cms import async_validate_detached_cms

from mailbox.signing.blocking import run_blocking
from mailbox.signing.tsa import offline_context

__all__ = [
    "DetachedSealInvalid",
    "DetachedSealValidation",
    "canonical_json",
    "seal_detached",
    "validate_detached",
]


class DetachedSealInvalid(ValueError):
    """The seal is no CMS signature at all, or the data cannot be canonicalised."""


@dataclass(frozen=True)
class DetachedSealValidation:
    """What an offline check of a detached seal found, each property apart."""

    intact: bool
    valid: bool
    trusted: bool
    signer: str
    signed_at: datetime | None
    timestamp_valid: bool

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted and self.timestamp_valid


def _check(value: Any, where: str) -> None:
    if isinstance(value, float):
        raise DetachedSealInvalid(f"{where}: numbers with a fraction cannot be sealed")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise DetachedSealInvalid(f"{where}: object keys must be strings")
            _check(item, f"{where}.{key}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            _check(item, f"{where}[{n}]")
    elif not (value is None or isinstance(value, str | int | bool)):
        raise DetachedSealInvalid(f"{where}: {type(value).__name__} is not JSON")


def canonical_json(document: Any) -> bytes:
    """The RFC 8785 bytes of ``document`` (see the module's note on numbers)."""
    _check(document, "$")
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def seal_detached(data: bytes, *, signer: SimpleSigner, timestamper: TimeStamper) -> bytes:
    """The DER of a detached, timestamped CMS seal over ``data``. Blocking and CPU-bound."""
    signed = run_blocking(
        signer.async_sign_general_data(
            data, "sha256", detached=True, use_cades=True, timestamper=timestamper
        )
    )
    return signed.dump()


def validate_detached(
    data: bytes, seal: bytes, *, trust_root: x509.Certificate
) -> DetachedSealValidation:
    """Check ``seal`` over ``data`` offline against ``trust_root`` alone."""
    try:
        content = cms.ContentInfo.load(seal)
        signed_data = content["content"]
        if content["content_type"].native != "signed_data":
            raise ValueError("not SignedData")
        signed_data.native  # noqa: B018  (asn1crypto parses lazily: surface bad input here)
    except (ValueError, TypeError, KeyError) as exc:
        raise DetachedSealInvalid(f"The seal is not a CMS signature: {exc}") from None
    context = offline_context(trust_root)
    try:
        status = run_blocking(
            async_validate_detached_cms(
                data,
                signed_data,
                signer_validation_context=context,
                ts_validation_context=context,
            )
        )
    except Exception as exc:  # a hostile seal: whatever pyHanko raises means "no seal"
        if isinstance(exc, MemoryError):
            raise
        raise DetachedSealInvalid(f"The seal could not be read: {exc}") from None
    stamp = status.timestamp_validity
    return DetachedSealValidation(
        intact=status.intact,
        valid=status.valid and status.intact,
        trusted=status.trusted,
        signer=status.signing_cert.subject.native.get("common_name", ""),
        signed_at=stamp.timestamp.astimezone(UTC) if stamp else None,
        timestamp_valid=bool(stamp and stamp.intact and stamp.valid and stamp.trusted),
    )
