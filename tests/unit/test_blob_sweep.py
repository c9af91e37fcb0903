"""The blob sweep removes what failed writes left (stale temporary files, orphan blobs past
their grace period) and nothing else: never a blob a document references, never a young file;
a dry run removes nothing; the scheduler runs it at start; the CLI prints the counts."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from mailbox.config import Settings
from mailbox.models import Document
from mailbox.operations.blob_sweep import sweep_blobs
from mailbox.operations.scheduling import start_scheduler
from mailbox.services import Services
from tests.factories import deliver, make_world
from tests.fixtures.service_process import clean_env

ROOT = Path(__file__).resolve().parents[2]
DAY = 86400


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _blob_path(services: Services, blob_id: str) -> Path:
    return services.settings.effective_blob_dir / blob_id[:2] / blob_id[2:4] / blob_id


def _temp_file(services: Services, name: str, age: float) -> Path:
    path = services.settings.effective_blob_dir / "ab" / "cd" / f".{'ab' * 32}.{name}.tmp"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"half a blob")
    _age(path, age)
    return path


async def _leftovers(services: Services) -> dict[str, Path]:
    """A referenced old blob, an old orphan, a young orphan, a stale and a fresh temp file."""
    world = await make_world(services)
    delivery = await deliver(services, world)
    async with services.db.session() as session:
        document = await session.get(Document, delivery.document_id)
    referenced = _blob_path(services, document.sealed_sha256)
    _age(referenced, 30 * DAY)
    old_orphan = _blob_path(services, services.blobs.put(b"sealed, then the transaction failed"))
    _age(old_orphan, 2 * DAY)
    young_orphan = _blob_path(services, services.blobs.put(b"a dispatch still committing"))
    _age(young_orphan, 600)
    return {
        "referenced": referenced,
        "old_orphan": old_orphan,
        "young_orphan": young_orphan,
        "stale_temp": _temp_file(services, "00000001", 2 * 3600),
        "fresh_temp": _temp_file(services, "00000002", 60),
    }


async def test_sweep_removes_stale_temp_files_and_old_orphans_only(services: Services) -> None:
    files = await _leftovers(services)

    report = await sweep_blobs(services)

    gone = {name for name, path in files.items() if not path.exists()}
    assert gone == {"old_orphan", "stale_temp"}
    assert (report.temp_removed, report.orphans_removed) == (1, 1)
    assert report.referenced == 1 and report.within_grace == 1 and report.scanned == 5
    assert report.temp_bytes == len(b"half a blob") and report.orphan_bytes > 0


async def test_sweep_keeps_a_document_readable(services: Services) -> None:
    world = await make_world(services)
    delivery = await deliver(services, world)
    async with services.db.session() as session:
        document = await session.get(Document, delivery.document_id)
    _age(_blob_path(services, document.sealed_sha256), 365 * DAY)

    await sweep_blobs(services)

    assert services.blobs.get(document.sealed_sha256)[:5] == b"%PDF-"


async def test_dry_run_counts_but_removes_nothing(services: Services) -> None:
    files = await _leftovers(services)

    report = await sweep_blobs(services, dry_run=True)

    assert all(path.exists() for path in files.values())
    assert report.dry_run and (report.temp_removed, report.orphans_removed) == (1, 1)


async def test_an_orphan_stored_again_meanwhile_is_kept(services: Services) -> None:
    data = b"the same sealed bytes, stored again by a dispatch in flight"
    path = _blob_path(services, services.blobs.put(data))
    _age(path, 2 * DAY)
    listed = next(e for e in services.blobs.entries() if e.path == path)
    services.blobs.put(data)  # a dispatch stores the same blob: it is young again

    removed = services.blobs.remove(listed, unless_modified_after=time.time() - DAY)

    assert not removed and path.exists()


async def test_orphan_grace_period_is_a_setting(services: Services) -> None:
    orphan = _blob_path(services, services.blobs.put(b"orphan of three hours"))
    _age(orphan, 3 * 3600)
    await sweep_blobs(services)
    assert orphan.exists()  # default grace: a day

    services.settings = services.settings.model_copy(update={"blob_orphan_grace_seconds": 7200})
    await sweep_blobs(services)
    assert not orphan.exists()


def test_orphan_grace_period_below_an_hour_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="blob_orphan_grace_seconds"):
        Settings(data_dir=tmp_path, blob_orphan_grace_seconds=60)


async def test_scheduler_sweeps_at_start_and_then_every_interval(services: Services) -> None:
    stale = _temp_file(services, "00000003", 2 * 3600)
    services.settings = services.settings.model_copy(update={"blob_sweep_interval_seconds": 900})
    jobs = start_scheduler(services)
    try:
        job = jobs.scheduler.get_job("blob-sweep")
        for _ in range(100):
            if not stale.exists():
                break
            await asyncio.sleep(0.05)
    finally:
        await jobs.stop(grace=5)
    assert job is not None and job.trigger.interval == timedelta(seconds=900)
    assert not stale.exists()


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailbox", *args],
        cwd=ROOT,
        env=clean_env(
            data_dir=str(settings.data_dir),
            database_url=settings.effective_database_url,
            key_dir=str(settings.effective_key_dir),
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_cli_sweep_prints_counts_and_dry_run_keeps_files(services: Services) -> None:
    files = await _leftovers(services)

    dry = await asyncio.to_thread(_cli, services.settings, "blobs", "sweep", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["orphans_removed"] == 1
    assert all(path.exists() for path in files.values())

    done = await asyncio.to_thread(_cli, services.settings, "blobs", "sweep")
    assert done.returncode == 0, done.stderr
    assert "removed 1 temporary files" in done.stdout and "1 orphan blobs" in done.stdout
    assert not files["old_orphan"].exists() and files["referenced"].exists()


def test_cli_sweep_refuses_an_unmigrated_database(tmp_path: Path, key_dir: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, key_dir=key_dir, database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db"
    )
    result = _cli(settings, "blobs", "sweep")
    assert result.returncode == 1
    assert "db upgrade" in result.stderr and result.stdout == ""
