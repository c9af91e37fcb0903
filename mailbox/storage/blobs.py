"""Encrypted, content-addressed blob storage.

A blob's id is the SHA-256 of its plaintext. Each blob is encrypted with AES-256-GCM under its
own random data key; the data key is wrapped (AES-256-GCM again) by the master key from the key
directory. The id is bound into both as associated data, so a blob swapped for another, or any
altered byte, fails authentication and is never served.

File layout: ``MBX1`` | wrap nonce (12) | wrapped key (48) | data nonce (12) | ciphertext+tag.

A write goes to a temporary file in the blob's own directory (``.<id>.<random>.tmp``), is
fsynced and renamed into place; on any failure the temporary file is removed before the error
is raised, so a full or read-only disk leaves nothing behind. Such failures are ours, never the
sender's: no space (ENOSPC, EDQUOT) raises :class:`StorageFull` (507), anything else the disk
refuses (EROFS, EACCES, EIO...) :class:`StorageUnavailable` (503), both logged at ERROR for the
operator. :meth:`LocalBlobStore.entries` lists what is on disk for the sweep
(:mod:`mailbox.operations.blob_sweep`) that removes stale temporary files and orphan blobs.

Crypto-shredding (:meth:`LocalBlobStore.shred`, at the end of a retention period) overwrites the
wrapped data key in place first, then removes the file: bytes of the file that outlive it (a
hard link, an undeleted block) no longer open, even with the master key.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mailbox.errors import BlobCorrupted, NotFound, StorageFull, StorageUnavailable

__all__ = [
    "BlobStore",
    "LocalBlobStore",
    "StoredFile",
    "create_master_key",
    "load_master_key",
]

log = logging.getLogger("mailbox.storage")

MAGIC = b"MBX1"
MASTER_KEY_FILE = "master.key"
_HEADER = len(MAGIC) + 12 + 48 + 12
_TEMP_SUFFIX = ".tmp"
_HEX = frozenset("0123456789abcdef")

# Seconds a client is told to wait: a full disk needs an operator, a refused one may be a
# remount or a volume coming back.
FULL_RETRY_AFTER = 300
UNAVAILABLE_RETRY_AFTER = 60
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


@dataclass(frozen=True)
class StoredFile:
    """One file of the store as the sweep sees it: a blob (``blob_id`` set) or a temporary
    file left by a write (``blob_id`` None), with its size and modification time (Unix)."""

    path: Path
    blob_id: str | None
    size: int
    modified: float

    @property
    def is_temporary(self) -> bool:
        return self.blob_id is None


class BlobStore(Protocol):
    """Where sealed documents live. Implementations: a local directory; an S3 bucket later."""

    def put(self, data: bytes) -> str: ...

    def get(self, blob_id: str) -> bytes: ...

    def exists(self, blob_id: str) -> bool: ...

    def shred(self, blob_id: str) -> bool: ...

    def entries(self) -> Iterator[StoredFile]: ...

    def remove(self, entry: StoredFile, *, unless_modified_after: float) -> bool: ...


def create_master_key(key_dir: Path) -> None:
    """Write a new random 256-bit master key, readable by the owner only."""
    path = key_dir / MASTER_KEY_FILE
    if path.exists():
        raise FileExistsError(f"{path} exists; refusing to replace the key that opens all blobs")
    key_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_bytes(32))


def load_master_key(key_dir: Path) -> bytes:
    path = key_dir / MASTER_KEY_FILE
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"No master key at {path}. Run `python -m mailbox init` to create the keys."
        ) from None
    if len(key) != 32:
        raise ValueError(f"{path} must hold exactly 32 bytes")
    return key


class LocalBlobStore:
    """Blobs as files under ``root/ab/cd/<sha256>``, written atomically."""

    def __init__(
        self,
        root: Path,
        master_key: bytes,
        *,
        os_write: Callable[[int, memoryview], int] = os.write,
    ) -> None:
        """``os_write`` is the system call that writes a file's bytes (tests give one that
        fails as a full or broken disk does, where they cannot make a real one)."""
        self.root = root
        self._master = AESGCM(master_key)
        self._os_write = os_write
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, blob_id: str) -> Path:
        if len(blob_id) != 64 or not _HEX.issuperset(blob_id):
            raise NotFound(f"No blob {blob_id!r}")
        return self.root / blob_id[:2] / blob_id[2:4] / blob_id

    def put(self, data: bytes) -> str:
        """Store ``data`` encrypted and return its id. Storing the same bytes twice is a no-op
        (but makes the file young again, so that the orphan sweep's grace period starts anew
        for a blob about to be referenced). Raises :class:`StorageFull` or
        :class:`StorageUnavailable` when the disk refuses, leaving no file behind."""
        blob_id = hashlib.sha256(data).hexdigest()
        path = self._path(blob_id)
        if path.exists():
            with contextlib.suppress(OSError):  # a read-only store still serves what it has
                os.utime(path)
            return blob_id
        aad = blob_id.encode()
        data_key = AESGCM.generate_key(256)
        wrap_nonce, data_nonce = os.urandom(12), os.urandom(12)
        wrapped = self._master.encrypt(wrap_nonce, data_key, aad)
        ciphertext = AESGCM(data_key).encrypt(data_nonce, data, aad)
        tmp = path.with_name(f".{blob_id}.{secrets.token_hex(4)}{_TEMP_SUFFIX}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                self._write_all(fd, MAGIC + wrap_nonce + wrapped + data_nonce)
                self._write_all(fd, ciphertext)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            if isinstance(exc, OSError):
                raise self._refusal(exc, blob_id) from exc
            raise
        _fsync_directory(path.parent)
        return blob_id

    def _write_all(self, fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[self._os_write(fd, view) :]

    def _refusal(self, exc: OSError, blob_id: str) -> StorageFull | StorageUnavailable:
        """The domain error for a write the disk refused, logged for the operator (where and
        why, never the document)."""
        full = exc.errno in _NO_SPACE
        log.error(
            "blob store %s: cannot write blob %s: %s",
            "full" if full else "unwritable",
            blob_id,
            exc.strerror or exc,
            extra={"blob_dir": str(self.root), "errno": exc.errno},
        )
        if full:
            return StorageFull(
                "The document store is full; nothing was delivered. Retry later.",
                retry_after=FULL_RETRY_AFTER,
            )
        return StorageUnavailable(
            "The document store cannot be written; nothing was delivered. Retry later.",
            retry_after=UNAVAILABLE_RETRY_AFTER,
        )

    def get(self, blob_id: str) -> bytes:
        """Return the plaintext of ``blob_id``; raise :class:`BlobCorrupted` if it was altered."""
        path = self._path(blob_id)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"No blob {blob_id}") from None
        if len(raw) < _HEADER + 16 or not raw.startswith(MAGIC):
            raise BlobCorrupted(f"Blob {blob_id} is truncated or not in the expected format")
        aad = blob_id.encode()
        view = memoryview(raw)
        wrap_nonce, wrapped = view[4:16], view[16:64]
        data_nonce, ciphertext = view[64:76], view[76:]
        try:
            data_key = self._master.decrypt(bytes(wrap_nonce), bytes(wrapped), aad)
            data = AESGCM(data_key).decrypt(bytes(data_nonce), bytes(ciphertext), aad)
        except InvalidTag:
            raise BlobCorrupted(f"Blob {blob_id} failed authentication: it was altered") from None
        if hashlib.sha256(data).hexdigest() != blob_id:
            raise BlobCorrupted(f"Blob {blob_id} does not hash to its id")
        return data

    def exists(self, blob_id: str) -> bool:
        return self._path(blob_id).exists()

    def shred(self, blob_id: str) -> bool:
        """Crypto-shred ``blob_id``: overwrite its wrap nonce and wrapped data key with zeros and
        sync, then remove the file and sync its directory. True if there was a blob to shred;
        False if it was gone already (shredding twice is harmless).

        On a copy-on-write file system or an SSD the old key bytes may survive in blocks the
        file no longer owns; they are still wrapped by the master key."""
        path = self._path(blob_id)
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return False
        with os.fdopen(fd, "r+b") as handle:
            handle.seek(len(MAGIC))
            handle.write(bytes(12 + 48))  # the wrap nonce and the wrapped data key
            handle.flush()
            os.fsync(handle.fileno())
        path.unlink()
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return True

    def entries(self) -> Iterator[StoredFile]:
        """Every blob and temporary file under the root, in no particular order; files that
        are neither, and files that vanish while listed, are skipped."""
        for directory, _dirs, names in os.walk(self.root):
            for name in names:
                if name.startswith(".") and name.endswith(_TEMP_SUFFIX):
                    blob_id = None
                elif len(name) == 64 and _HEX.issuperset(name):
                    blob_id = name
                else:
                    continue
                path = Path(directory) / name
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue
                yield StoredFile(path, blob_id, stat.st_size, stat.st_mtime)

    def remove(self, entry: StoredFile, *, unless_modified_after: float) -> bool:
        """Delete ``entry`` unless it was modified after ``unless_modified_after`` (Unix time:
        a dispatch may have stored the same blob again meanwhile) or is gone already; say
        whether it was deleted."""
        try:
            if entry.path.stat().st_mtime > unless_modified_after:
                return False
            entry.path.unlink()
        except FileNotFoundError:
            return False
        return True


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (best effort: not every system allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
