"""A backup taken while the real service runs and serves pickups, restored into a new data
directory: the restored evidence log verifies, and a service started on the restored install
serves the same documents (same bytes, same SHA-256) to the same person. A damaged backup, or a
target that is not empty, is refused with nothing written."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from mailbox.operations.demo import DEMO_USERS
from tests.fixtures.service_process import (
    ROOT,
    clean_env,
    free_port,
    service_env,
    stop_process_group,
    wait_until_healthy,
)

pytestmark = pytest.mark.slow


def _mailbox(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailbox", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@contextmanager
def _serving(data_dir: Path, **settings: str) -> Iterator[str]:
    port = free_port()
    log_path = data_dir.parent / f"serve-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mailbox", "serve"],
            cwd=ROOT,
            env=service_env(data_dir, port, **settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base_url, process, timeout=60, describe_output=log_path.read_text)
        yield base_url
    finally:
        stop_process_group(process)


def _applicant(api: httpx.Client) -> dict[str, str]:
    email, password = DEMO_USERS["applicant"]
    token = api.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": email, "password": password},
    )
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def _documents(base_url: str) -> dict[str, tuple[bytes, str, str]]:
    """Every document of the demo applicant's inbox: bytes, the download's SHA-256 header and
    the delivery's recorded sealed SHA-256, by delivery id."""
    with httpx.Client(base_url=base_url, timeout=30) as api:
        headers = _applicant(api)
        inbox = api.get("/api/v1/inbox", headers=headers).json()["items"]
        found = {}
        for item in inbox:
            download = api.get(f"/api/v1/deliveries/{item['id']}/document", headers=headers)
            assert download.status_code == 200, download.text
            found[item["id"]] = (
                download.content,
                download.headers["x-content-sha256"],
                item["document"]["sealed_sha256"],
            )
        return found


def test_backup_of_a_running_service_restores_to_the_same_documents(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    setup = _mailbox("demo", "--no-serve", env=service_env(data_dir, free_port()))
    assert setup.returncode == 0, setup.stderr
    backup_dir, restored_dir = tmp_path / "backup", tmp_path / "restored"

    with _serving(data_dir) as base_url:
        before = _documents(base_url)
        assert len(before) == 3
        # Pickups keep writing evidence while the backup is taken.
        stop, reads = threading.Event(), []

        def keep_reading() -> None:
            with httpx.Client(base_url=base_url, timeout=30) as api:
                headers = _applicant(api)
                while not stop.is_set():
                    for delivery_id in before:
                        path = f"/api/v1/deliveries/{delivery_id}/document"
                        reads.append(api.get(path, headers=headers).status_code)

        reader = threading.Thread(target=keep_reading)
        reader.start()
        try:
            created = _mailbox(
                "--json", "backup", "create", str(backup_dir), env=clean_env(data_dir=str(data_dir))
            )
        finally:
            stop.set()
            reader.join(timeout=60)
        assert created.returncode == 0, created.stderr
        assert reads and set(reads) == {200}, "the service did not serve during the backup"

        again = _mailbox("backup", "create", str(backup_dir), env=clean_env(data_dir=str(data_dir)))
        assert again.returncode == 2
        assert "exists and is not empty" in again.stderr

    report = json.loads(created.stdout)
    assert report["database"]["backend"] == "sqlite"
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    paths = {entry["path"] for entry in manifest["files"]}
    assert {"mailbox.db", "keys/master.key"} <= paths
    stored = [p for p in (data_dir / "blobs").rglob("*") if p.is_file()]
    assert stored, "the demo stores documents"
    assert len([p for p in paths if p.startswith("blobs/")]) == len(stored)
    assert (backup_dir.stat().st_mode & 0o077) == 0  # it holds the keys

    restored = _mailbox(
        "--json", "backup", "restore", str(backup_dir), "--data-dir", str(restored_dir),
        env=clean_env(),
    )  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    audit = json.loads(restored.stdout)["audit"]
    assert audit["ok"] is True
    assert audit["checked"] == report["database"]["evidence_records"]

    with _serving(restored_dir, scheduler_enabled="false") as base_url:
        after = _documents(base_url)
    assert after == before


def test_restore_refuses_a_damaged_backup_and_a_used_target_writing_nothing(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    setup = _mailbox("init", env=clean_env(data_dir=str(data_dir)))
    assert setup.returncode == 0, setup.stderr
    backup_dir = tmp_path / "backup"
    created = _mailbox("backup", "create", str(backup_dir), env=clean_env(data_dir=str(data_dir)))
    assert created.returncode == 0, created.stderr

    used = tmp_path / "used"
    used.mkdir()
    (used / "something").write_text("mine")
    refused = _mailbox(
        "backup", "restore", str(backup_dir), "--data-dir", str(used), env=clean_env()
    )
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        f"Error: The data directory {used} exists and is not empty; give a new one."
    )
    assert [p.name for p in used.iterdir()] == ["something"]

    damaged = tmp_path / "damaged"
    shutil.copytree(backup_dir, damaged)
    key = damaged / "keys" / "master.key"
    key.write_bytes(bytes(32))
    target = tmp_path / "from-damaged"
    refused = _mailbox(
        "backup", "restore", str(damaged), "--data-dir", str(target), env=clean_env()
    )
    assert refused.returncode == 2
    assert "keys/master.key does not match its SHA-256 in the manifest" in refused.stderr
    assert "Nothing was restored" in refused.stderr
    assert not target.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".from-damaged")]

    not_a_backup = _mailbox(
        "backup", "restore", str(data_dir), "--data-dir", str(target), env=clean_env()
    )
    assert not_a_backup.returncode == 2
    assert "is not a backup: it has no manifest.json" in not_a_backup.stderr
