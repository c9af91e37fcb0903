"""What the command line leaves on disk and prints: the database readable by its owner only,
no credentials in printed URLs, and no password configured to travel in clear text."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.fixtures.service_process import clean_env

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailbox", *args],
        cwd=ROOT,
        env=clean_env(**settings),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_init_creates_the_database_readable_by_its_owner_only(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)  # the common default, which left the database world-readable
    try:
        result = _cli("init", data_dir=str(tmp_path / "data"))
    finally:
        os.umask(old_umask)
    assert result.returncode == 0, result.stderr
    database = tmp_path / "data" / "mailbox.db"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    for companion in ("mailbox.db-wal", "mailbox.db-shm"):
        path = database.with_name(companion)
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
