"""Blobs are content-addressed, encrypted at rest, and never served once altered."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from mailbox.errors import BlobCorrupted, NotFound
from mailbox.storage.blobs import LocalBlobStore


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs", os.urandom(32))


def _file(store: LocalBlobStore, blob_id: str) -> Path:
    return next(p for p in store.root.rglob(blob_id))


def test_put_returns_sha256_and_get_round_trips(store: LocalBlobStore) -> None:
    data = b"%PDF-1.7 official notice " * 1000
    blob_id = store.put(data)
    assert blob_id == hashlib.sha256(data).hexdigest()
    assert store.get(blob_id) == data
    assert store.put(data) == blob_id  # same bytes, same blob


def test_stored_bytes_are_encrypted(store: LocalBlobStore) -> None:
    data = b"confidential patent claims " * 100
    blob_id = store.put(data)
    raw = _file(store, blob_id).read_bytes()
    assert b"confidential" not in raw


@pytest.mark.parametrize(
    "offset", [5, 20, 70, -1], ids=["wrap-nonce", "wrapped-key", "nonce", "tag"]
)
def test_altered_blob_fails_loudly(store: LocalBlobStore, offset: int) -> None:
    blob_id = store.put(b"%PDF-1.7 sealed document")
    path = _file(store, blob_id)
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(BlobCorrupted):
        store.get(blob_id)


def test_blob_swapped_for_another_fails(store: LocalBlobStore) -> None:
    a, b = store.put(b"document A"), store.put(b"document B")
    _file(store, a).write_bytes(_file(store, b).read_bytes())
    with pytest.raises(BlobCorrupted):
        store.get(a)


def test_blob_under_another_master_key_fails(store: LocalBlobStore, tmp_path: Path) -> None:
    blob_id = store.put(b"document")
    other = LocalBlobStore(store.root, os.urandom(32))
    with pytest.raises(BlobCorrupted):
        other.get(blob_id)


def test_unknown_and_malformed_ids_are_not_found(store: LocalBlobStore) -> None:
    with pytest.raises(NotFound):
        store.get("0" * 64)
    with pytest.raises(NotFound):
        store.get("../../etc/passwd")
