"""Backups from the command line: ``backup create DIR`` of a running install and ``backup
restore DIR --data-dir NEW`` as a new install, whose evidence log is then audited."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from mailbox.cli.base import emit, load_settings, main, progress_bar, run_blocking, run_domain


@main.group()
def backup() -> None:
    """Back up an install and restore it."""


@backup.command("create")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def backup_create(ctx: click.Context, directory: Path) -> None:
    """Back up the database (SQLite: a consistent snapshot taken while the service runs), the
    blobs and the keys into DIRECTORY (new or empty), with a manifest of SHA-256 hashes. On
    PostgreSQL, run the pg_dump command it prints into DIRECTORY first."""
    from mailbox.operations.backup import create_backup

    settings = load_settings()
    with progress_bar() as progress:
        report = run_blocking(lambda: create_backup(settings, directory, progress=progress))
    database = report.database
    payload = {
        "directory": str(report.directory),
        "created_at": report.created_at,
        "database": database,
        "files": report.files,
        "bytes": report.size,
        "vanished_blobs": report.vanished,
    }
    lines = [f"Backup of {report.files} files ({report.size} bytes) in {report.directory}."]
    if database["backend"] == "sqlite":
        lines.append(
            f"Database: a snapshot at schema {database['schema_revision']} with "
            f"{database['evidence_records']} evidence records."
        )
    elif database["included"]:
        lines.append("Database: the pg_dump found in the directory, listed in the manifest.")
    else:
        lines.append(
            "The PostgreSQL database is NOT in this backup: back it up with pg_dump, into the "
            "new backup directory BEFORE running `backup create` on it (the dump first, so that "
            f"every document it names has its blob in the backup):\n  {database['command']}"
        )
    if report.vanished:
        lines.append(f"{report.vanished} blob(s) were shredded by the retention purge meanwhile.")
    emit(ctx, payload, "\n".join(lines))


@backup.command("restore")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--data-dir",
    "data_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The new install's data directory (new or empty).",
)
@click.pass_context
def backup_restore(ctx: click.Context, directory: Path, data_dir: Path) -> None:
    """Restore the backup in DIRECTORY as a new install in --data-dir: refuses a directory
    that is not empty, checks every file against the manifest before writing anything, then
    runs `audit verify` on the restored evidence log (exit 1 if it fails)."""
    from mailbox.operations.backup import restore_backup, restored_settings

    with progress_bar() as progress:
        report = run_blocking(lambda: restore_backup(directory, data_dir, progress=progress))
    payload: dict[str, Any] = {
        "data_dir": str(report.data_dir),
        "backup_created_at": report.backup_created_at,
        "files": report.files,
        "bytes": report.size,
        "notes": report.notes,
        "audit": None,
    }
    lines = [f"Restored {report.files} files from {directory} into {report.data_dir}."]
    audit_ok = True
    if report.database.get("backend") == "sqlite":
        with progress_bar() as progress:
            audit = run_domain(_verify_restored(restored_settings(data_dir), progress))
        audit_ok = audit["ok"]
        payload["audit"] = audit
        lines.append(
            f"audit verify: OK, {audit['checked']} evidence records and "
            f"{audit['checkpoints_checked']} checkpoints verified."
            if audit_ok
            else f"audit verify FAILED: {audit['reason']}. Do not serve from this install."
        )
        if audit_ok:
            lines.append(f"Serve it with MAILBOX_DATA_DIR={data_dir} python -m mailbox serve")
    lines += report.notes
    emit(ctx, payload, "\n".join(lines))
    if not audit_ok:
        sys.exit(1)


async def _verify_restored(settings: Any, progress: Any) -> dict[str, Any]:
    """Migrate the restored database if it is older than the code, then check its log."""
    from mailbox.db import Database, run_migrations
    from mailbox.evidence.audit import check_log
    from mailbox.signing.pki import load_key_material

    run_migrations(settings.effective_database_url)
    keys = load_key_material(settings.effective_key_dir)
    database = Database(settings.effective_database_url)
    checked = 0

    def advance(n: int) -> None:
        nonlocal checked
        checked += n
        progress("auditing", checked, 0)

    try:
        async with database.session() as session:
            report = await check_log(session, keys, progress=advance)
    finally:
        await database.dispose()
    reason = None
    if report.broken is not None:
        reason = f"record {report.broken.seq}: {report.broken.reason}"
    elif report.bad_checkpoint is not None:
        reason = (
            f"checkpoint of {report.bad_checkpoint.seq} records: {report.bad_checkpoint.reason}"
        )
    return {
        "ok": report.ok,
        "checked": report.checked,
        "checkpoints_checked": report.checkpoints_checked,
        "reason": reason,
    }
