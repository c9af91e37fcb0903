"""The file name a delivered document carries: what the sender called it, reduced to one safe
name (no path, no control or direction-changing characters, a bounded length) that downloads,
pages and proof bundles can show as it is."""

from __future__ import annotations

import posixpath
import unicodedata

__all__ = ["FALLBACK_FILENAME", "MAX_FILENAME_LENGTH", "document_filename"]

FALLBACK_FILENAME = "document.pdf"
MAX_FILENAME_LENGTH = 200
_MAX_EXTENSION_LENGTH = 16
# Control (Cc), format (Cf: bidi overrides such as U+202E, zero-width characters), surrogate,
# private-use and unassigned characters, and line or paragraph separators.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def document_filename(received: str | None) -> str:
    """The name to keep for a document the sender called ``received``: its last path segment
    without control or bidi-override characters, at most :data:`MAX_FILENAME_LENGTH`
    characters with its extension kept, or :data:`FALLBACK_FILENAME` when nothing is left."""
    if not received:
        return FALLBACK_FILENAME
    name = unicodedata.normalize("NFC", received)
    name = "".join(c for c in name if unicodedata.category(c) not in _DROPPED_CATEGORIES)
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if name.strip(".") == "":
        return FALLBACK_FILENAME
    if len(name) > MAX_FILENAME_LENGTH:
        stem, extension = posixpath.splitext(name)
        if len(extension) > _MAX_EXTENSION_LENGTH:
            stem, extension = name, ""
        name = stem[: MAX_FILENAME_LENGTH - len(extension)].rstrip() + extension
    return name
