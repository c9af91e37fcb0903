"""The route of a transmission and its package document: what every hop delivers.

The package document is canonical JSON (:func:`mailbox.signing.detached.canonical_json`)
binding the sender's manifest, the route and every document by the SHA-256 of what was sent,
of what is stored sealed, and of its detached seal; sealed itself with a detached seal, it
proves the whole package and the way it was meant to travel. Pure: no database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mailbox.signing.detached import canonical_json

__all__ = [
    "PACKAGE_FILENAME",
    "PACKAGE_FORMAT",
    "PACKAGE_SEAL_KIND",
    "PackedDocument",
    "kind_words",
    "package_bytes",
    "route_of",
]

PACKAGE_FORMAT = "mailbox-transmission-package/1"
PACKAGE_FILENAME = "package.json"
# The kind a package is checked as when sealed: never a data notice's kind, whose JSON must be
# a national-phase entry notice (the package is not one, whatever it transmits).
PACKAGE_SEAL_KIND = "transmission-package"


@dataclass(frozen=True)
class PackedDocument:
    """One document of a package as the package document names it."""

    file: str
    role: str
    media_type: str
    original_sha256: str
    sealed_sha256: str
    seal_sha256: str | None
    document_id: str

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "role": self.role,
            "media_type": self.media_type,
            "original_sha256": self.original_sha256,
            "sealed_sha256": self.sealed_sha256,
            "seal_sha256": self.seal_sha256,
            "document_id": self.document_id,
        }


def route_of(sender: str, final: str, hub: str | None) -> list[str]:
    """The office codes a package travels through: sender, the hub if any, final recipient.
    A sender that is also the final recipient keeps every hop (``[A, H, A]``, or ``[A, A]``):
    none is skipped in the evidence."""
    return [sender, hub, final] if hub else [sender, final]


def package_bytes(
    *,
    transmission_id: str,
    manifest: Mapping[str, Any],
    route: Sequence[str],
    documents: Sequence[PackedDocument],
) -> bytes:
    """The package document's canonical bytes (what is stored, sealed and delivered)."""
    return canonical_json(
        {
            "format": PACKAGE_FORMAT,
            "transmission_id": transmission_id,
            "manifest": dict(manifest),
            "route": list(route),
            "documents": [d.as_json() for d in documents],
        }
    )


def kind_words(kind: str) -> str:
    """A transmission kind in words, for titles: ``search-copy`` -> ``Search copy``."""
    return kind.replace("-", " ").capitalize()
