"""Database plumbing: the async engine (SQLite in WAL mode or PostgreSQL), the UTC column
type, sessions that commit or roll back as one unit, the check that the schema is migrated, and
what a lost connection means: :func:`is_transient` tells a dropped connection or a locked
database (ours, and gone a moment later) from a real error, and :func:`retry_transient` runs a
use case's unit of work again in a fresh transaction, a few times with a short pause, before it
gives up with :class:`DatabaseUnavailable` (503, ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import DateTime, event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeDecorator
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import to_utc
from mailbox.errors import DatabaseUnavailable, MailboxError, SchemaNotMigrated

__all__ = [
    "LIKE_ESCAPE",
    "Database",
    "UTCDateTime",
    "alembic_config",
    "assert_migrated",
    "contains_pattern",
    "is_transient",
    "protect_sqlite_files",
    "retry_transient",
    "run_migrations",
    "sqlite_file",
    "try_advisory_lock",
]

log = logging.getLogger("mailbox.db")

LIKE_ESCAPE = "\\"


def contains_pattern(text: str) -> str:
    """A LIKE pattern (with :data:`LIKE_ESCAPE`) matching values that contain ``text`` in
    lower case, its own ``%`` and ``_`` taken literally: compare it with ``lower(column)``."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


T = TypeVar("T")

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


# --- lost connections ----------------------------------------------------------------------

# Pauses between the attempts of a unit of work whose connection was lost: four attempts within
# about a second, long enough for the pool to reconnect after a backend was terminated or a
# primary failed over, short enough to answer before a client's own timeout.
RETRY_DELAYS: tuple[float, ...] = (0.05, 0.2, 0.6)
# What a client is told when the database stayed away through them.
DATABASE_RETRY_AFTER = 5

# Words of the drivers' messages for a connection that went away or a database that is busy.
_TRANSIENT_MESSAGES = (
    "server closed the connection",
    "connection was closed",
    "connection is closed",
    "connection does not exist",
    "terminating connection",
    "connection reset",
    "broken pipe",
    "could not connect",
    "connection refused",
    "the database system is starting up",
    "the database system is shutting down",
    "database is locked",
)
# asyncpg's names for the same (matched by name: asyncpg is only there with PostgreSQL).
_TRANSIENT_TYPES = frozenset(
    {
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "AdminShutdownError",
        "CrashShutdownError",
        "CannotConnectNowError",
        "ConnectionResetError",
        "BrokenPipeError",
    }
)


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` says the database connection was lost or the database was busy (a
    terminated backend, a server restart, SQLite's "database is locked" after its timeout),
    so that the same work in a fresh transaction may well succeed; False for every error the
    work itself caused (a constraint, a bad statement)."""
    if isinstance(exc, IntegrityError | MailboxError):
        return False  # the work's own error (or one already answered), whatever caused it
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if type(current).__name__ in _TRANSIENT_TYPES:
            return True
        message = str(current).lower()
        if any(words in message for words in _TRANSIENT_MESSAGES):
            return True
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False


async def retry_transient(
    work: Callable[[], Awaitable[T]],
    *,
    what: str,
    delays: Sequence[float] = RETRY_DELAYS,
) -> T:
    """Run ``work`` (one unit of work that opens its own transactions) and return its result;
    when the database connection is lost (:func:`is_transient`) run it again after each of
    ``delays``. Work that may have committed before its connection dropped must find out
    itself on its next attempt (see the dispatch). When every attempt failed, raise
    :class:`DatabaseUnavailable`, logged at ERROR; any other error passes through at once."""
    for attempt, delay in enumerate((*delays, None), start=1):
        try:
            return await work()
        except Exception as exc:
            if not is_transient(exc):
                raise
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            if delay is None:
                log.error(
                    "%s: database unavailable after %d attempts (%s)",
                    what,
                    attempt,
                    reason,
                    extra={"attempts": attempt},
                )
                raise DatabaseUnavailable(
                    "The database is unavailable; nothing was changed. Retry later.",
                    retry_after=DATABASE_RETRY_AFTER,
                ) from exc
            log.warning(
                "%s: database connection lost, attempt %d again (%s)",
                what,
                attempt + 1,
                reason,
                extra={"attempt": attempt},
            )
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
