"""Database plumbing: the async engine (SQLite in WAL mode or PostgreSQL), the UTC column
type, sessions that commit or roll back as one unit, and the check that the schema is migrated.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeDecorator
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import to_utc
from mailbox.errors import SchemaNotMigrated

__all__ = [
    "Database",
    "UTCDateTime",
    "alembic_config",
    "assert_migrated",
    "protect_sqlite_files",
    "run_migrations",
    "sqlite_file",
    "try_advisory_lock",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# The database holds personal data and evidence: owner-only, like the keys.
_PRIVATE_FILE_MODE = 0o600
_SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite database URL; ``None`` for another database or an in-memory one."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def protect_sqlite_files(url: str) -> None:
    """Make a SQLite database's file (created empty if missing, so SQLite never creates it with
    the umask's mode) and its -wal/-shm/-journal files readable by the owner only. Nothing for
    other databases."""
    path = sqlite_file(url)
    if path is None:
        return
    if not path.exists() and path.parent.is_dir():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, _PRIVATE_FILE_MODE))
    for suffix in _SQLITE_COMPANIONS:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path.with_name(path.name + suffix), _PRIVATE_FILE_MODE)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always returns them aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = to_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return to_utc(value) if value is not None else None


class Database:
    """The engine and session factory of one service instance.

    ``session()`` is a unit of work: it commits when the block ends without an error and rolls
    back otherwise. ``write()`` is the same but serialises writers on SQLite, where two
    transactions that both read then write would otherwise fail with "database is locked".
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            protect_sqlite_files(url)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine, url)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        self._write_lock = asyncio.Lock()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose work is committed at the end of the block, or rolled back on error."""
        async with self._sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """Like :meth:`session`, for work that writes (serialised on SQLite)."""
        if not self.is_sqlite:
            async with self.session() as session:
                yield session
            return
        async with self._write_lock, self.session() as session:
            await session.execute(text("SELECT 1"))  # opens the transaction under the lock
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


def _configure_sqlite(engine: AsyncEngine, url: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        protect_sqlite_files(url)  # the -wal and -shm files exist now


def alembic_config(url: str) -> Any:
    """An Alembic configuration for ``url`` that uses the repository's migrations."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def run_migrations(url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision``. Blocking; from inside a running event
    loop it runs on a helper thread (Alembic's environment starts a loop of its own)."""
    from concurrent.futures import ThreadPoolExecutor

    from alembic import command

    protect_sqlite_files(url)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        command.upgrade(alembic_config(url), revision)
        return
    with ThreadPoolExecutor(max_workers=1) as helper:
        helper.submit(command.upgrade, alembic_config(url), revision).result()


async def try_advisory_lock(session: AsyncSession, key: int) -> bool:
    """Take PostgreSQL's transaction-scoped advisory lock ``key`` if no other transaction
    holds it, and say whether it was taken; it is released when the transaction ends. On
    SQLite (one instance) there is nobody to exclude: always True."""
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        return True
    result = await session.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key})
    return bool(result.scalar())


async def assert_migrated(database: Database) -> None:
    """Raise :class:`SchemaNotMigrated` unless the schema is at the newest migration."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(database.url)).get_current_head()
    try:
        async with database.engine.connect() as connection:
            result = await connection.execute(text("SELECT version_num FROM alembic_version"))
            current = result.scalar_one_or_none()
    except Exception as exc:  # no table: never migrated
        raise SchemaNotMigrated(current=None, head=head) from exc
    if current != head:
        raise SchemaNotMigrated(current=current, head=head)
