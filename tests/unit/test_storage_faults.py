"""A full or read-only disk refuses a blob with the fault named (507 full, 503 unwritable), and
leaves no file behind; the store lists what the sweep needs."""

from __future__ import annotations

import errno
import logging
import os
import time
from pathlib import Path

import pytest

from mailbox.errors import StorageFull, StorageUnavailable
from mailbox.storage.blobs import LocalBlobStore
from tests.fixtures.filesystems import broken_disk, failing_write

KEY = os.urandom(32)
DOCUMENT = os.urandom(64 * 1024)  # larger than the small filesystem, and incompressible


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize("fault", ["tmpfs", "injected"])
def test_full_disk_refuses_with_storage_full_and_leaves_no_file(
    tmp_path: Path, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    with broken_disk(tmp_path / "blobs", fault, "full") as (root, os_write):
        store = LocalBlobStore(root, KEY, os_write=os_write)
        with caplog.at_level(logging.ERROR, "mailbox.storage"), pytest.raises(StorageFull) as err:
            store.put(DOCUMENT)
        assert _files(root) == []
    assert err.value.status_code == 507 and err.value.retry_after > 0
    assert any("full" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)


@pytest.mark.parametrize("fault", ["tmpfs", "injected"])
def test_read_only_disk_refuses_with_storage_unavailable_and_leaves_no_file(
    tmp_path: Path, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    with broken_disk(tmp_path / "blobs", fault, "read-only") as (root, os_write):
        store = LocalBlobStore(root, KEY, os_write=os_write)
        with (
            caplog.at_level(logging.ERROR, "mailbox.storage"),
            pytest.raises(StorageUnavailable) as err,
        ):
            store.put(DOCUMENT)
        assert _files(root) == []
    assert err.value.status_code == 503 and err.value.retry_after > 0
    assert any("unwritable" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("code", [errno.EDQUOT, errno.EACCES, errno.EIO])
def test_each_refusal_is_named_by_its_kind(tmp_path: Path, code: int) -> None:
    store = LocalBlobStore(tmp_path, KEY, os_write=failing_write(code, after=10))
    expected = StorageFull if code == errno.EDQUOT else StorageUnavailable
    with pytest.raises(expected):
        store.put(DOCUMENT)
    assert _files(tmp_path) == []


def test_a_write_after_the_disk_recovers_stores_the_blob(tmp_path: Path) -> None:
    broken = LocalBlobStore(tmp_path, KEY, os_write=failing_write(errno.ENOSPC, after=10))
    with pytest.raises(StorageFull):
        broken.put(DOCUMENT)
    healthy = LocalBlobStore(tmp_path, KEY)
    blob_id = healthy.put(DOCUMENT)
    assert healthy.get(blob_id) == DOCUMENT
    assert [p.name for p in _files(tmp_path)] == [blob_id]


def test_storing_the_same_bytes_again_makes_the_blob_young(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path, KEY)
    blob_id = store.put(DOCUMENT)
    path = next(p for p in _files(tmp_path) if p.name == blob_id)
    os.utime(path, (time.time() - 86400 * 3,) * 2)
    store.put(DOCUMENT)
    assert path.stat().st_mtime > time.time() - 60


def test_entries_list_blobs_and_temporary_files_only(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path, KEY)
    blob_id = store.put(DOCUMENT)
    leftover = tmp_path / "ab" / "cd" / f".{'ab' * 32}.0011aabb.tmp"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"partial")
    (tmp_path / "README").write_text("not a blob")
    entries = {e.path.name: e for e in store.entries()}
    assert set(entries) == {blob_id, leftover.name}
    assert entries[leftover.name].is_temporary and entries[leftover.name].size == 7
    assert entries[blob_id].blob_id == blob_id
