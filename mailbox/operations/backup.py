"""Backups of an install and their restore (``python -m mailbox backup create|restore``).

A backup is a directory, readable by its owner only (it holds the keys):

    manifest.json            format, time, database, and every file with its SHA-256 and size
    mailbox.db               SQLite only: a consistent snapshot taken with SQLite's online
                             backup API while the service runs
    blobs/ab/cd/<sha256>     the encrypted blobs, as stored
    keys/...                 the key directory: PKI, token keys, the blob master key

On PostgreSQL ``pg_dump`` backs the database up: run it first, into ``database.dump`` in the new
backup directory (the command says how), then ``backup create`` on that directory adds the
blobs, the keys and the manifest (with the dump's SHA-256). Dump first, blobs second: every
document the dump names then has its blob in the backup.

The database is copied first, then the blobs: a blob is written before the transaction that
names it commits, so every blob the snapshot names is already on disk when the blobs are copied.
A blob crypto-shredded by the retention purge meanwhile is missing from the copy (counted as
``vanished``); the restored install purges its content again on its next run.

A restore refuses a target that is not empty, checks every file against the manifest before it
writes anything, writes into a temporary sibling directory and renames it into place, so that a
failed restore leaves nothing half-written; then the caller runs ``audit verify`` on it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy.engine import make_url

from mailbox.clock import now
from mailbox.config import Settings, masked_url
from mailbox.db import protect_sqlite_files
from mailbox.errors import InvalidRequest
from mailbox.timefmt import rfc3339

__all__ = [
    "BACKUP_FORMAT",
    "MANIFEST",
    "BackupReport",
    "Progress",
    "RestoreReport",
    "create_backup",
    "pg_dump_command",
    "restore_backup",
    "restored_settings",
]

BACKUP_FORMAT = "mailbox-backup/1"
MANIFEST = "manifest.json"
DATABASE_FILE = "mailbox.db"
PG_DUMP_FILE = "database.dump"
BLOBS, KEYS = "blobs", "keys"
_LAYOUT = (DATABASE_FILE, PG_DUMP_FILE, BLOBS, KEYS)
_BLOB_NAME = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1024 * 1024

# progress(stage, done, total): called as work advances ("database", "blobs", "keys",
# "checking", "restoring").
Progress = Callable[[str, int, int], None]


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


@dataclass(frozen=True)
class BackupReport:
    directory: Path
    created_at: str
    database: dict[str, Any]
    files: int
    size: int
    vanished: int  # blobs shredded between the database snapshot and their copy


@dataclass(frozen=True)
class RestoreReport:
    data_dir: Path
    backup_created_at: str
    database: dict[str, Any]
    files: int
    size: int
    notes: list[str] = field(default_factory=list)


def pg_dump_command(settings: Settings, target: Path) -> str:
    """The ``pg_dump`` command that backs up the PostgreSQL database of ``settings`` into
    ``target`` (password masked: give it in ``PGPASSWORD`` or ``~/.pgpass``)."""
    url = make_url(settings.effective_database_url).set(drivername="postgresql")
    shown = masked_url(url.render_as_string(hide_password=False))
    return f'pg_dump --format=custom --file "{target / PG_DUMP_FILE}" "{shown}"'


def create_backup(
    settings: Settings, target: Path, *, progress: Progress = _no_progress
) -> BackupReport:
    """Back up the install of ``settings`` into ``target`` (which must not exist or be empty):
    the SQLite database (online backup API), the blobs, the keys and a manifest with every
    file's SHA-256. On PostgreSQL the database is left to ``pg_dump``: a ``database.dump`` it
    wrote into ``target`` before is kept and listed; without one, the report says how to make
    it."""
    url = settings.effective_database_url
    sqlite = make_url(url).get_backend_name() == "sqlite"
    _refuse_non_empty(target, "backup directory", allowed=() if sqlite else (PG_DUMP_FILE,))
    created_at = rfc3339(now())
    with _staging(target) as staging:
        files: list[dict[str, Any]] = []
        if sqlite:
            database = _snapshot_sqlite(url, staging / DATABASE_FILE, progress)
            files.append(_entry(staging, DATABASE_FILE))
        else:
            dump = target / PG_DUMP_FILE
            database = {
                "backend": make_url(url).get_backend_name(),
                "included": dump.is_file(),
                "command": pg_dump_command(settings, target),
            }
            if dump.is_file():
                database["file"] = PG_DUMP_FILE
                files.append(_entry(target, PG_DUMP_FILE))  # moved in with the staging
        blobs = list(_blob_files(settings.effective_blob_dir))
        vanished = 0
        for n, source in enumerate(blobs, 1):
            relative = PurePosixPath(BLOBS, *source.relative_to(settings.effective_blob_dir).parts)
            try:
                files.append(_copy(source, staging, relative))
            except FileNotFoundError:
                vanished += 1  # shredded by the retention purge after the snapshot
            progress("blobs", n, len(blobs))
        keys = [p for p in sorted(settings.effective_key_dir.rglob("*")) if p.is_file()]
        if not keys:
            raise InvalidRequest(f"No keys in {settings.effective_key_dir}: nothing to back up")
        for n, source in enumerate(keys, 1):
            relative = PurePosixPath(KEYS, *source.relative_to(settings.effective_key_dir).parts)
            files.append(_copy(source, staging, relative))
            progress("keys", n, len(keys))
        manifest = {
            "format": BACKUP_FORMAT,
            "created_at": created_at,
            "database": database,
            "vanished_blobs": vanished,
            "files": files,
        }
        _write_private(staging / MANIFEST, json.dumps(manifest, indent=2).encode())
    return BackupReport(
        target, created_at, database, len(files), sum(f["size"] for f in files), vanished
    )


def restore_backup(
    source: Path, data_dir: Path, *, progress: Progress = _no_progress
) -> RestoreReport:
    """Restore the backup in ``source`` as a new install in ``data_dir`` (which must not exist
    or be empty), laid out as the defaults expect: ``mailbox.db``, ``blobs/``, ``keys/``.
    Every file is checked against the manifest before anything is written; a mismatch or a
    missing file is refused with nothing written."""
    _refuse_non_empty(data_dir, "data directory")
    manifest = _read_manifest(source)
    entries = manifest["files"]
    bad = []
    for n, entry in enumerate(entries, 1):
        path = source / entry["path"]
        if not path.is_file():
            bad.append(f"{entry['path']} is missing")
        elif _sha256(path) != entry["sha256"]:
            bad.append(f"{entry['path']} does not match its SHA-256 in the manifest")
        progress("checking", n, len(entries))
    if bad:
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        raise InvalidRequest(
            f"The backup in {source} is damaged: {'; '.join(bad[:3])}{more}. Nothing was restored."
        )
    with _staging(data_dir) as staging:
        for n, entry in enumerate(entries, 1):
            copied = _copy(source / entry["path"], staging, PurePosixPath(entry["path"]))
            if copied["sha256"] != entry["sha256"]:  # changed while being copied
                raise InvalidRequest(f"{entry['path']} changed while it was being restored")
            progress("restoring", n, len(entries))
        for directory in (staging / BLOBS, staging / KEYS):
            directory.mkdir(exist_ok=True)
            os.chmod(directory, 0o700)
    notes = []
    database = manifest["database"]
    if database.get("backend") != "sqlite":
        where = (
            f"from {data_dir / PG_DUMP_FILE} (pg_restore --dbname <url> {PG_DUMP_FILE})"
            if database.get("included")
            else "from the dump you made with pg_dump (it is not in this backup)"
        )
        notes.append(
            f"Restore the PostgreSQL database {where}, set MAILBOX_DATABASE_URL to it, then run "
            "`python -m mailbox audit verify`."
        )
    return RestoreReport(
        data_dir,
        manifest["created_at"],
        database,
        len(entries),
        sum(e["size"] for e in entries),
        notes,
    )


def restored_settings(data_dir: Path) -> Settings:
    """The settings of an install restored into ``data_dir`` with the default layout (the
    database, blob and key locations of the environment do not apply to it)."""
    return Settings(data_dir=data_dir, database_url="", blob_dir=None, key_dir=None)


# --- parts ---------------------------------------------------------------------------------


def _refuse_non_empty(path: Path, what: str, *, allowed: tuple[str, ...] = ()) -> None:
    if path.exists() and (
        not path.is_dir() or any(p.name not in allowed or not p.is_file() for p in path.iterdir())
    ):
        raise InvalidRequest(f"The {what} {path} exists and is not empty; give a new one.")


class _staging:
    """A private temporary sibling of ``target`` that becomes ``target`` when the block ends
    without an error (taking along the files ``target`` held: a pg_dump), and is removed
    otherwise."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.path = target.parent / f".{target.name}.partial-{secrets.token_hex(4)}"

    def __enter__(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.path.mkdir(mode=0o700)
        return self.path

    def __exit__(self, kind: object, *rest: object) -> None:
        if kind is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        for parent, directories, _ in os.walk(self.path):  # keys inside: owner-only throughout
            for name in directories:
                os.chmod(Path(parent, name), 0o700)
        if self.target.exists():
            for leftover in self.target.iterdir():  # checked before: only a pg_dump
                os.replace(leftover, self.path / leftover.name)
            self.target.rmdir()
        os.replace(self.path, self.target)


def _snapshot_sqlite(url: str, target: Path, progress: Progress) -> dict[str, Any]:
    """Copy the SQLite database at ``url`` into ``target`` with the online backup API, in one
    step (a consistent snapshot: writers go on meanwhile, in WAL mode), and check the copy."""
    database = make_url(url).database
    source_path = Path(database or "")
    if not database or not source_path.is_file():
        raise InvalidRequest(f"No SQLite database at {source_path}: nothing to back up")
    progress("database", 0, 1)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    source = sqlite3.connect(source_path, timeout=30)
    try:
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)  # pages=-1: every page in one step, one snapshot
            (integrity,) = copy.execute("PRAGMA integrity_check").fetchone()
            if integrity != "ok":
                raise InvalidRequest(
                    f"The database snapshot failed its integrity check: {integrity}"
                )
            revision = _scalar(copy, "SELECT version_num FROM alembic_version")
            records = _scalar(copy, "SELECT count(*) FROM evidence")
        finally:
            copy.close()
    finally:
        source.close()
        protect_sqlite_files(url)  # the -wal/-shm files, if opening it made them
    progress("database", 1, 1)
    return {
        "backend": "sqlite",
        "included": True,
        "file": DATABASE_FILE,
        "schema_revision": revision,
        "evidence_records": records,
    }


def _scalar(connection: sqlite3.Connection, query: str) -> Any:
    try:
        row = connection.execute(query).fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def _blob_files(root: Path) -> Iterator[Path]:
    """The stored blobs under ``root`` (``ab/cd/<sha256>``), not files being written."""
    if not root.is_dir():
        return
    for path in sorted(root.glob("??/??/*")):
        if _BLOB_NAME.match(path.name) and path.is_file():
            yield path


def _copy(source: Path, root: Path, relative: PurePosixPath) -> dict[str, Any]:
    """Copy ``source`` to ``root/relative`` (owner-only), hashing on the way."""
    target = root.joinpath(*relative.parts)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest, size = hashlib.sha256(), 0
    with source.open("rb") as reader:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as writer:
            while chunk := reader.read(_CHUNK):
                digest.update(chunk)
                writer.write(chunk)
                size += len(chunk)
            writer.flush()
            os.fsync(writer.fileno())
    return {"path": str(relative), "sha256": digest.hexdigest(), "size": size}


def _entry(root: Path, name: str) -> dict[str, Any]:
    path = root / name
    return {"path": name, "sha256": _sha256(path), "size": path.stat().st_size}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as reader:
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_private(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _read_manifest(source: Path) -> dict[str, Any]:
    """The manifest of the backup in ``source``, its file paths checked to stay inside it."""
    try:
        manifest = json.loads((source / MANIFEST).read_bytes())
    except FileNotFoundError:
        raise InvalidRequest(f"{source} is not a backup: it has no {MANIFEST}") from None
    except (OSError, ValueError) as exc:
        raise InvalidRequest(f"{source / MANIFEST} is unreadable: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BACKUP_FORMAT:
        raise InvalidRequest(f"{source / MANIFEST} is not a manifest of format {BACKUP_FORMAT}")
    try:
        for entry in manifest["files"]:
            path = PurePosixPath(entry["path"])
            if path.is_absolute() or ".." in path.parts or path.parts[0] not in _LAYOUT:
                raise ValueError(f"a file outside the backup's layout: {entry['path']}")
            if not isinstance(entry["size"], int) or not re.fullmatch(
                r"[0-9a-f]{64}", entry["sha256"]
            ):
                raise ValueError(f"a malformed entry for {entry['path']}")
        if not isinstance(manifest["database"], dict) or not manifest["created_at"]:
            raise ValueError("no database or created_at")
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise InvalidRequest(f"{source / MANIFEST} is malformed: {exc}") from None
    return manifest
