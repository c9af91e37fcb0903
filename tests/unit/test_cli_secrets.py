"""What the command line leaves on disk and prints: the database readable by its owner only,
no credentials in printed URLs, and no password configured to travel in clear text."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from mailbox.config import Settings, masked_url
from tests.fixtures.db import PG_HOST, _pg_execute
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


@pytest.fixture
def pg_database_with_password(pg_template: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database, named by a URL that carries a password (the test
    server trusts local connections, so the password is accepted and ignored)."""
    name = f"mailbox_test_{uuid.uuid4().hex[:10]}_cli"
    asyncio.run(_pg_execute(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_HOST.replace("://postgres@", "://postgres:s3cret-db@") + f"/{name}"
    finally:
        asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_cli_masks_the_password_in_database_and_tsa_urls(
    tmp_path: Path, pg_database_with_password: str
) -> None:
    settings = {
        "data_dir": str(tmp_path / "data"),
        "database_url": pg_database_with_password,
        "tsa_url": "https://tsa-user:s3cret-tsa@tsa.example/rfc3161",
    }
    shown = _cli("settings", **settings)
    assert shown.returncode == 0, shown.stderr
    assert "s3cret" not in shown.stdout
    assert '"database_url": "postgresql+asyncpg://postgres:***@127.0.0.1' in shown.stdout
    assert '"tsa_url": "https://tsa-user:***@tsa.example/rfc3161"' in shown.stdout

    for command in (("init",), ("--json", "init"), ("db", "upgrade")):
        result = _cli(*command, **settings)
        assert result.returncode == 0, result.stderr
        assert "s3cret" not in result.stdout + result.stderr
        assert "postgres:***@" in result.stdout


def test_masked_url_hides_only_the_password() -> None:
    assert (
        masked_url("postgresql+asyncpg://user:p%40ss:word@db.example:5432/mailbox")
        == "postgresql+asyncpg://user:***@db.example:5432/mailbox"
    )
    assert masked_url("postgresql+asyncpg://db.example:5432/mailbox") == (
        "postgresql+asyncpg://db.example:5432/mailbox"
    )
    assert masked_url("sqlite+aiosqlite:///var/mailbox.db") == "sqlite+aiosqlite:///var/mailbox.db"


def test_smtp_credentials_over_plain_smtp_are_refused() -> None:
    with pytest.raises(ValidationError, match="smtp_security"):
        Settings(smtp_username="alerts", smtp_password="hunter2")
    with pytest.raises(ValidationError, match="starttls or tls"):
        Settings(smtp_security="plain", smtp_username="alerts")
    assert Settings(smtp_security="starttls", smtp_username="alerts", smtp_password="hunter2")
    assert Settings(smtp_security="plain").smtp_username is None  # a local relay, no login


def test_cli_names_the_fix_for_plain_smtp_credentials(tmp_path: Path) -> None:
    result = _cli(
        "settings",
        data_dir=str(tmp_path),
        smtp_username="alerts",
        smtp_password="hunter2",
    )
    assert result.returncode != 0
    assert "MAILBOX_SMTP_SECURITY" in result.stderr
    assert "clear text" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
