"""Active content in a PDF: what a reader could run or open besides the pages themselves.

JavaScript (an OpenAction, the document's JavaScript name tree, any action with /JS), Launch
actions (start a program), embedded files (a file specification with /EF, an EmbeddedFiles
name tree, a /FileAttachment annotation), rich media (/RichMedia, /Screen, /Movie, /Sound, /3D
annotations, Rendition and RichMediaExecute actions), XFA forms, and the SubmitForm and
ImportData actions that send or load form data. An official document needs none of them, and
each has carried attacks on whoever opens the file.

The scan walks the object graph from the catalog breadth first, over dictionaries and arrays
only: stream data is never decoded. It is bounded (hostile files): at most ``MAX_OBJECTS``
indirect objects and ``MAX_NODES`` containers, and direct objects nested at most ``MAX_NESTING``
deep; a scan that reaches a bound says so (``complete`` is False), and a dispatch treats that as
something it could not clear.

Parsing every object is what costs (pyHanko's parser is pure Python: hundreds of milliseconds
for a 300-page document with links, several times its seal; see bench/active_content.py), so
a walk is made only when the file could hold active content at all: every name the walk reacts
to must appear in the file's bytes or in its decoded object streams, spelled out or with
``#xx`` escapes. Most official documents pass this test in a few milliseconds and are never
walked. A file of a few dozen objects is walked at once: that costs less than the search when
its bytes are a few large images.

The object streams searched are inflated with a bound first (:mod:`.object_streams`).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from mailbox.signing.object_streams import inflate_object_streams

__all__ = [
    "ACTIVE_CONTENT_POLICIES",
    "ActiveContentPolicy",
    "ActiveContentReport",
    "Finding",
    "scan_active_content",
]

ActiveContentPolicy = Literal["reject", "allow"]
ACTIVE_CONTENT_POLICIES: tuple[str, ...] = ("reject", "allow")

MAX_OBJECTS = 100_000
MAX_NODES = 1_000_000
MAX_NESTING = 64
# How many embedded file names a report keeps, and how long each may be.
MAX_NAMES = 10
MAX_NAME_LENGTH = 100

# A file of at most this many objects is walked at once: cheaper than searching its bytes when
# they are a few large images (a 5 MB scan has about ten objects).
WALK_AT_ONCE = 64
# Every name the walk reacts to starts with one of these (a superset: /JSx matches too).
_TRIGGER_NAMES = [
    "JS",
    "JavaScript",
    "Launch",
    "SubmitForm",
    "ImportData",
    "RichMedia",
    "Rendition",
    "GoToE",
    "FileAttachment",
    "Screen",
    "Movie",
    "Sound",
    "3D",
    "EF",
    "EmbeddedFile",
    "XFA",
]


def _spelled(name: str) -> str:
    """A pattern for ``name`` with each character as itself or as its ``#xx`` escape."""
    return "".join(f"(?:{re.escape(c)}|#(?i:{ord(c):02x}))" for c in name)


_TRIGGERS = re.compile(("/(?:" + "|".join(_spelled(n) for n in _TRIGGER_NAMES) + ")").encode())

# What each kind is called in a sentence, in the order a summary lists them.
PHRASES = {
    "javascript": "JavaScript",
    "launch": "a Launch action",
    "embedded_file": "an embedded file",
    "rich_media": "rich media",
    "xfa": "an XFA form",
    "submit_form": "a SubmitForm action",
    "import_data": "an ImportData action",
}
_ACTIONS = {
    "/JavaScript": "javascript",
    "/Launch": "launch",
    "/SubmitForm": "submit_form",
    "/ImportData": "import_data",
    "/RichMediaExecute": "rich_media",
    "/Rendition": "rich_media",
    "/GoToE": "embedded_file",
}
_ANNOTATIONS = {
    "/FileAttachment": "embedded_file",
    "/RichMedia": "rich_media",
    "/Screen": "rich_media",
    "/Movie": "rich_media",
    "/Sound": "rich_media",
    "/3D": "rich_media",
}
# The key through which the walk entered a part of the document names where a finding sits;
# the deepest such key on the path wins ("annotation" inside a page, not "page").
_PLACES = {
    "/OpenAction": "OpenAction",
    "/AA": "additional actions",
    "/Names": "Names tree",
    "/JavaScript": "Names tree",
    "/EmbeddedFiles": "EmbeddedFiles",
    "/AcroForm": "form",
    "/Pages": "page",
    "/Annots": "annotation",
    "/Outlines": "bookmark",
}


@dataclass(frozen=True)
class Finding:
    """One kind of active content (a key of ``PHRASES``) and the places it was seen."""

    kind: str
    places: tuple[str, ...]

    def phrase(self) -> str:
        return f"{PHRASES.get(self.kind, self.kind)} ({', '.join(self.places)})"


@dataclass(frozen=True)
class ActiveContentReport:
    """What a scan found; empty and ``complete`` for a PDF with no active content."""

    findings: tuple[Finding, ...] = ()
    file_names: tuple[str, ...] = ()
    complete: bool = True
    objects: int = 0

    def __bool__(self) -> bool:
        return bool(self.findings)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(f.kind for f in self.findings)

    def summary(self) -> str:
        """One sentence: "the PDF contains JavaScript (OpenAction) and an embedded file ..."."""
        parts = [f.phrase() for f in self.findings]
        if self.file_names and "embedded_file" in self.kinds:
            index = self.kinds.index("embedded_file")
            named = ", ".join(self.file_names[:3]) + (", ..." if len(self.file_names) > 3 else "")
            parts[index] = parts[index][:-1] + f": {named})"
        if not parts:
            return "the PDF contains no active content"
        listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        return f"the PDF contains {listed}"

    def as_evidence(self) -> dict[str, Any]:
        """The report as it goes into an evidence record."""
        evidence: dict[str, Any] = {
            "found": [{"kind": f.kind, "places": list(f.places)} for f in self.findings],
            "complete": self.complete,
        }
        if self.file_names:
            evidence["file_names"] = list(self.file_names)
        return evidence


@dataclass
class _Scan:
    places: dict[str, list[str]] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)

    def found(self, kind: str, place: str) -> None:
        seen = self.places.setdefault(kind, [])
        if place not in seen:
            seen.append(place)

    def report(self, *, complete: bool, objects: int) -> ActiveContentReport:
        findings = tuple(
            Finding(kind, tuple(self.places[kind])) for kind in PHRASES if kind in self.places
        )
        return ActiveContentReport(findings, tuple(self.names), complete, objects)


def scan_active_content(
    reader: PdfFileReader,
    data: bytes | None = None,
    object_streams: tuple[bytes, ...] | None = None,
) -> ActiveContentReport:
    """Walk ``reader``'s document from its catalog and report the active content in it; given
    the file's bytes (``data``) and its decoded object streams (from
    :func:`~.object_streams.inflate_object_streams`, read here when not given), skip the walk
    when none of them names anything active.

    Raises what the parser raises on unreadable objects; the caller turns that into a refusal.
    """
    if data is not None and _object_count(reader) > WALK_AT_ONCE:
        streams = inflate_object_streams(reader) if object_streams is None else object_streams
        if not _named(data) and not any(_named(s) for s in streams):
            return ActiveContentReport()
    scan = _Scan()
    root = reader.root
    seen: set[tuple[int, int]] = set()
    root_ref = reader.root_ref
    seen.add((root_ref.idnum, root_ref.generation))
    # (object, place, nesting of direct containers since the last indirect object)
    queue: deque[tuple[Any, str, int]] = deque([(root, "document", 0)])
    nodes = 0
    complete = True
    while queue:
        obj, place, nesting = queue.popleft()
        nodes += 1
        if nodes > MAX_NODES or nesting > MAX_NESTING:
            complete = False
            break
        if isinstance(obj, generic.IndirectObject):
            ref = obj.reference
            key = (ref.idnum, ref.generation)
            if key in seen:
                continue
            seen.add(key)
            if len(seen) > MAX_OBJECTS:
                complete = False
                break
            queue.append((reader.get_object(ref), place, 0))
        elif isinstance(obj, generic.DictionaryObject):
            _inspect_dictionary(obj, place, scan)
            for name, value in dict.items(obj):
                if _is_container(value):
                    queue.append((value, _place(name, place), nesting + 1))
        elif isinstance(obj, generic.ArrayObject):
            for value in _containers(obj):
                queue.append((value, place, nesting + 1))
    return scan.report(complete=complete, objects=len(seen))


def _object_count(reader: PdfFileReader) -> int:
    """How many objects the file declares (its trailer's /Size); unknown counts as many."""
    try:
        return int(reader.trailer["/Size"])
    except Exception:
        return MAX_OBJECTS


def _named(data: bytes) -> bool:
    return _TRIGGERS.search(data) is not None


def _place(key: str, place: str) -> str:
    if key == "/Names" and place != "document":
        return place  # the /Names array of a name tree's node, not the catalog's /Names
    return _PLACES.get(key, place)


def _is_container(value: object) -> bool:
    return isinstance(
        value, generic.IndirectObject | generic.DictionaryObject | generic.ArrayObject
    )


def _containers(values: Iterable[object]) -> Iterable[object]:
    return (v for v in values if _is_container(v))


def _inspect_dictionary(obj: generic.DictionaryObject, place: str, scan: _Scan) -> None:
    action = _name(obj, "/S")
    if action in _ACTIONS:
        scan.found(_ACTIONS[action], place)
    if "/JS" in obj:
        scan.found("javascript", place)
    subtype = _name(obj, "/Subtype")
    if subtype in _ANNOTATIONS:
        scan.found(_ANNOTATIONS[subtype], place)
    if "/EF" in obj or _name(obj, "/Type") == "/EmbeddedFile":
        scan.found("embedded_file", place)
        _keep_file_name(obj, scan)
    if "/XFA" in obj:
        scan.found("xfa", place)
    if place == "Names tree":
        # The catalog's /Names dictionary: a JavaScript or EmbeddedFiles tree, even an empty
        # one, says the document was made to carry them.
        if "/JavaScript" in obj:
            scan.found("javascript", "Names tree")
        if "/EmbeddedFiles" in obj:
            scan.found("embedded_file", "EmbeddedFiles")


def _name(obj: generic.DictionaryObject, key: str) -> str | None:
    value = dict.get(obj, key)
    return str(value) if isinstance(value, generic.NameObject) else None


def _keep_file_name(obj: generic.DictionaryObject, scan: _Scan) -> None:
    if len(scan.names) >= MAX_NAMES:
        return
    for key in ("/UF", "/F"):
        value = dict.get(obj, key)
        if isinstance(value, generic.TextStringObject | generic.ByteStringObject):
            text = value if isinstance(value, str) else value.decode("latin-1")
            name = "".join(c if c.isprintable() else "?" for c in text)[:MAX_NAME_LENGTH]
            if name and name not in scan.names:
                scan.names.append(name)
            return
