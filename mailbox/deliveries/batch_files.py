"""The files of a bulk dispatch on disk: written as they arrive, read one document at a time.
The documents are PDFs, or JSON and XML data documents (a ``.json`` or ``.xml`` name in the
manifest says which: :func:`mailbox.deliveries.data_documents.media_type_for`); nothing here
depends on what they hold.

An upload is written into ``<data_dir>/batches/<batch_id>.incoming/`` part by part, chunk by
chunk, each part bounded as it grows (:class:`BatchUpload`): the manifest, and either one ZIP
(``archive.zip``) or the documents as separate parts (``parts/<n>``, their names in
``parts.json``). Nothing holds a whole upload in memory. Once checked, the directory is renamed
to ``<batch_id>/`` and kept until every item of the batch is dispatched; then it is removed.

A ZIP is opened by its central directory only (:func:`open_batch_files`): an entry larger than
the upload limit is refused before anything is inflated (413, naming it), and each document is
inflated when its item is dispatched, never past the limit even when the archive lies about
its sizes (a "ZIP bomb"). Files are private to the service (0600 in a 0700 directory).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import zipfile
from pathlib import Path
from typing import BinaryIO, Protocol

from mailbox.errors import FieldError, InvalidDocument, InvalidRequest, MailboxError

__all__ = [
    "MANIFEST_LIMIT",
    "BatchFiles",
    "BatchUpload",
    "UploadTooLarge",
    "batch_dir",
    "batches_root",
    "open_batch_files",
    "remove_batch_files",
    "remove_stale_uploads",
]

# A manifest line takes about 200 bytes: 64 MiB holds far more lines than a batch may have.
MANIFEST_LIMIT = 64 * 1024 * 1024
_ARCHIVE = "archive.zip"
_MANIFEST = "manifest"
_PARTS = "parts"
_INDEX = "parts.json"
_READ_CHUNK = 1024 * 1024


class UploadTooLarge(MailboxError):
    status_code = 413
    type = "/problems/content-too-large"
    title = "Content too large"


def batches_root(data_dir: Path) -> Path:
    """Where uploads of bulk dispatches wait until their batch is done."""
    return data_dir / "batches"


def batch_dir(data_dir: Path, batch_id: str) -> Path:
    return batches_root(data_dir) / batch_id


class _Part:
    """One part being written: bounded to ``limit`` bytes (413 past it, naming ``what``)."""

    def __init__(self, path: Path, limit: int, what: str, upload: BatchUpload) -> None:
        self.path, self.limit, self.what, self.upload = path, limit, what, upload
        self.size = 0
        self._file: BinaryIO = open(  # noqa: SIM115  (closed by close())
            os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb"
        )

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self.upload.grow(len(chunk))
        if self.size > self.limit:
            raise UploadTooLarge(
                f"{self.what} exceeds {self.limit} bytes",
                errors=[FieldError(self.what, f"at most {self.limit} bytes")],
            )
        self._file.write(chunk)

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


class BatchUpload:
    """An upload being written to disk: at most one manifest, and one ZIP or document parts,
    each bounded (a document by ``file_limit``, the whole by ``total_limit``: 413 past either)."""

    def __init__(self, root: Path, batch_id: str, *, file_limit: int, total_limit: int) -> None:
        self.batch_id = batch_id
        self.file_limit, self.total_limit = file_limit, total_limit
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = root / f"{batch_id}.incoming"
        self.path.mkdir(mode=0o700)
        self.manifest_filename: str | None = None
        self.has_archive = False
        self.parts: dict[str, str] = {}  # the document's name -> its file under parts/
        self.total = 0
        self._open: _Part | None = None

    def grow(self, size: int) -> None:
        self.total += size
        if self.total > self.total_limit:
            raise UploadTooLarge(
                f"The upload exceeds {self.total_limit} bytes (MAILBOX_BATCH_UPLOAD_LIMIT_BYTES)",
                errors=[FieldError("body", f"at most {self.total_limit} bytes")],
            )

    def manifest(self, filename: str | None) -> _Part:
        """Start the manifest part."""
        if self.manifest_filename is not None:
            raise InvalidRequest("Send one manifest", errors=[FieldError("manifest", "twice")])
        self.manifest_filename = filename or "manifest"
        return self._start(self.path / _MANIFEST, MANIFEST_LIMIT, "manifest")

    def archive(self) -> _Part:
        """Start the ZIP of documents."""
        if self.has_archive or self.parts:
            raise InvalidRequest(
                "Send the documents as one ZIP or as parts, not both",
                errors=[FieldError("archive", "one ZIP, and no file parts beside it")],
            )
        self.has_archive = True
        # A ZIP's central directory adds little to its documents; the total limit bounds it anyway.
        return self._start(self.path / _ARCHIVE, self.total_limit, "archive")

    def document(self, name: str) -> _Part:
        """Start one document part named ``name`` (the manifest's ``filename``: a PDF, or a
        ``.json`` or ``.xml`` data document)."""
        if self.has_archive:
            raise InvalidRequest(
                "Send the documents as one ZIP or as parts, not both",
                errors=[FieldError("files", "no file parts beside a ZIP")],
            )
        if not name or name in self.parts:
            raise InvalidRequest(
                "Each document part needs a file name of its own",
                errors=[FieldError("files", f"file name {name!r} missing or sent twice")],
            )
        (self.path / _PARTS).mkdir(exist_ok=True, mode=0o700)
        # Stored under a number: the name (and what the document is) lives in parts.json.
        stored = f"{len(self.parts):06d}.part"
        self.parts[name] = stored
        return self._start(self.path / _PARTS / stored, self.file_limit, f"files: {name[:100]}")

    def _start(self, path: Path, limit: int, what: str) -> _Part:
        if self._open is not None:
            self._open.close()
        self._open = _Part(path, limit, what, self)
        return self._open

    def close_parts(self) -> None:
        if self._open is not None:
            self._open.close()
            self._open = None
        if self.parts:
            (self.path / _INDEX).write_text(json.dumps(self.parts))

    def manifest_bytes(self) -> bytes:
        if self.manifest_filename is None:
            raise InvalidRequest(
                "A bulk dispatch needs its manifest",
                errors=[FieldError("manifest", "a CSV or JSON lines file is required")],
            )
        return (self.path / _MANIFEST).read_bytes()

    def keep(self) -> Path:
        """Move the checked upload to where its batch's worker reads it."""
        self.close_parts()
        final = self.path.with_name(self.batch_id)
        os.replace(self.path, final)
        self.path = final
        return final

    def discard(self) -> None:
        """Remove what was written (a refused or failed upload)."""
        if self._open is not None:
            self._open.close()
        shutil.rmtree(self.path, ignore_errors=True)


class BatchFiles(Protocol):
    """The documents of a batch, by the names the manifest gives them."""

    def names(self) -> set[str]: ...

    def read(self, name: str) -> bytes: ...

    def close(self) -> None: ...


class _ZipFiles:
    def __init__(self, path: Path, limit: int) -> None:
        self.limit = limit
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError):
            raise InvalidRequest(
                "The archive is not a ZIP file", errors=[FieldError("archive", "not a ZIP file")]
            ) from None
        self._lock = threading.Lock()
        self._entries = {i.filename: i for i in self._zip.infolist() if not i.is_dir()}
        large = [i for i in self._entries.values() if i.file_size > limit]
        if large:
            self._zip.close()
            raise UploadTooLarge(
                f"{len(large)} file(s) in the archive exceed the upload limit of {limit} bytes",
                errors=[
                    FieldError(f"archive: {i.filename[:200]}", f"{i.file_size} bytes")
                    for i in large[:100]
                ],
            )

    def names(self) -> set[str]:
        return set(self._entries)

    def read(self, name: str) -> bytes:
        """The entry ``name``, inflated to at most the limit whatever the archive claims;
        :class:`~mailbox.errors.InvalidDocument` when the entry cannot be inflated (corrupt,
        sizes or checksum that do not match, encrypted, an unknown compression)."""
        entry = self._entries[name]
        try:
            with self._lock, self._zip.open(entry) as member:
                data = member.read(self.limit + 1)
        except OSError:
            raise  # our disk: the item waits and is tried again
        except Exception as exc:  # whatever a hostile archive makes zipfile raise
            raise InvalidDocument(
                f"The archive's entry {name[:200]!r} cannot be read: {str(exc)[:200]}",
                reason="malformed",
            ) from None
        if len(data) > self.limit:
            raise UploadTooLarge(
                f"{name[:200]} inflates past the upload limit of {self.limit} bytes",
                errors=[FieldError("file", f"at most {self.limit} bytes")],
            )
        return data

    def close(self) -> None:
        self._zip.close()


class _PartFiles:
    def __init__(self, path: Path) -> None:
        self._path = path
        index = path / _INDEX
        self._parts: dict[str, str] = json.loads(index.read_text()) if index.exists() else {}

    def names(self) -> set[str]:
        return set(self._parts)

    def read(self, name: str) -> bytes:
        return (self._path / _PARTS / self._parts[name]).read_bytes()

    def close(self) -> None:
        pass


def open_batch_files(path: Path, *, file_limit: int) -> BatchFiles:
    """The documents of the upload in ``path``: its ZIP (checked: 422 if it is none, 413 naming
    each entry over ``file_limit``) or its parts."""
    if (path / _ARCHIVE).exists():
        return _ZipFiles(path / _ARCHIVE, file_limit)
    return _PartFiles(path)


def remove_batch_files(path: Path) -> None:
    """Remove a done batch's upload (its documents are sealed and stored by then)."""
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(path)


# An upload nobody has written to for this long was cut off (its request or process died).
STALE_UPLOAD_SECONDS = 24 * 3600


def remove_stale_uploads(data_dir: Path, *, now: float) -> int:
    """Remove the ``*.incoming`` directories of uploads that were cut off (nothing written to
    them for :data:`STALE_UPLOAD_SECONDS`); return how many."""
    root = batches_root(data_dir)
    if not root.is_dir():
        return 0
    removed = 0
    for path in root.glob("*.incoming"):
        with contextlib.suppress(FileNotFoundError):
            newest = max((p.stat().st_mtime for p in path.rglob("*")), default=path.stat().st_mtime)
            if now - newest > STALE_UPLOAD_SECONDS:
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
    return removed
