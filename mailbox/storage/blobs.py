"""Encrypted, content-addressed blob storage.

A blob's id is the SHA-256 of its plaintext. Each blob is encrypted with AES-256-GCM under its
own random data key; the data key is wrapped (AES-256-GCM again) by the master key from the key
directory. The id is bound into both as associated data, so a blob swapped for another, or any
altered byte, fails authentication and is never served.

File layout: ``MBX1`` | wrap nonce (12) | wrapped key (48) | data nonce (12) | ciphertext+tag.

Crypto-shredding (:meth:`LocalBlobStore.shred`, at the end of a retention period) overwrites the
wrapped data key in place first, then removes the file: bytes of the file that outlive it (a
hard link, an undeleted block) no longer open, even with the master key.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mailbox.errors import BlobCorrupted, NotFound

__all__ = ["BlobStore", "LocalBlobStore", "create_master_key", "load_master_key"]

MAGIC = b"MBX1"
MASTER_KEY_FILE = "master.key"
_HEADER = len(MAGIC) + 12 + 48 + 12


class BlobStore(Protocol):
    """Where sealed documents live. Implementations: a local directory; an S3 bucket later."""

    def put(self, data: bytes) -> str: ...

    def get(self, blob_id: str) -> bytes: ...

    def exists(self, blob_id: str) -> bool: ...

    def shred(self, blob_id: str) -> bool: ...


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

    def __init__(self, root: Path, master_key: bytes) -> None:
        self.root = root
        self._master = AESGCM(master_key)
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, blob_id: str) -> Path:
        if len(blob_id) != 64 or any(c not in "0123456789abcdef" for c in blob_id):
            raise NotFound(f"No blob {blob_id!r}")
        return self.root / blob_id[:2] / blob_id[2:4] / blob_id

    def put(self, data: bytes) -> str:
        """Store ``data`` encrypted and return its id. Storing the same bytes twice is a no-op."""
        blob_id = hashlib.sha256(data).hexdigest()
        path = self._path(blob_id)
        if path.exists():
            return blob_id
        aad = blob_id.encode()
        data_key = AESGCM.generate_key(256)
        wrap_nonce, data_nonce = os.urandom(12), os.urandom(12)
        wrapped = self._master.encrypt(wrap_nonce, data_key, aad)
        ciphertext = AESGCM(data_key).encrypt(data_nonce, data, aad)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{blob_id}.{secrets.token_hex(4)}.tmp")
        with open(tmp, "wb") as handle:
            handle.write(MAGIC + wrap_nonce + wrapped + data_nonce)
            handle.write(ciphertext)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        return blob_id

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
