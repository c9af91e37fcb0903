"""Backups on PostgreSQL: `backup create` says the database is not in the backup and prints the
pg_dump command; run into the new backup directory first, the dump is listed in the manifest,
restored with the blobs and keys, and after pg_restore the restored install's log verifies."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from pathlib import Path

import pytest
from httpx import AsyncClient

from mailbox.config import Settings
from mailbox.services import Services
from tests.factories import make_world, post_dispatch, token_for
from tests.fixtures.cli import run_cli
from tests.fixtures.db import PG_HOST, _pg_execute

pytestmark = pytest.mark.postgres


async def _shell(command: str) -> None:
    process = await asyncio.create_subprocess_shell(
        command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, f"{command}: {stderr.decode()}"


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_postgres_backup_takes_the_pg_dump_and_restores_to_a_verified_install(
    client: AsyncClient, services: Services, tmp_path: Path
) -> None:
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("needs pg_dump and pg_restore (Debian's postgresql-client)")
    world = await make_world(services)
    created = await post_dispatch(
        client, await token_for(client, world.dispatcher), world.account.id
    )
    assert created.status_code == 201, created.text
    backup_dir = tmp_path / "backup"

    code, out, err = await run_cli(services.settings, "backup", "create", str(backup_dir))
    assert code == 0, err
    assert "The PostgreSQL database is NOT in this backup" in out
    [command] = [line.strip() for line in out.splitlines() if line.strip().startswith("pg_dump ")]
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert manifest["database"]["included"] is False

    # As the message says: the dump first, into a new backup directory, then `backup create`.
    shutil.rmtree(backup_dir)
    backup_dir.mkdir()
    await _shell(command)
    code, out, err = await run_cli(services.settings, "--json", "backup", "create", str(backup_dir))
    assert code == 0, err
    assert json.loads(out)["database"]["included"] is True
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert "database.dump" in {entry["path"] for entry in manifest["files"]}

    restored = tmp_path / "restored"
    code, out, err = await run_cli(
        services.settings, "--json", "backup", "restore", str(backup_dir), "--data-dir",
        str(restored),
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    assert report["audit"] is None
    assert "pg_restore" in report["notes"][0]

    name = f"mailbox_test_restore_{uuid.uuid4().hex[:8]}"
    await _pg_execute(f'CREATE DATABASE "{name}"')
    try:
        plain = PG_HOST.replace("postgresql+asyncpg", "postgresql")
        await _shell(f'pg_restore --no-owner --dbname "{plain}/{name}" "{restored}/database.dump"')
        # A new Settings, not model_copy: the effective_* paths are cached properties.
        restored_settings = Settings(data_dir=restored, database_url=f"{PG_HOST}/{name}")
        assert restored_settings.effective_key_dir == restored / "keys"
        code, out, err = await run_cli(restored_settings, "--json", "audit", "verify")
        assert code == 0, err
        verified = json.loads(out)
        assert verified["ok"] is True and verified["checked"] >= 2  # the dispatch's records
    finally:
        await _pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
