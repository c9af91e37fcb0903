"""Which database errors are a lost connection or a busy database (ours, retried, then a 503)
and which are the work's own (passed through at once): told from real driver errors."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from mailbox.db import is_transient, retry_transient
from mailbox.errors import DatabaseUnavailable


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    path = tmp_path / "locked.db"
    with sqlite3.connect(path) as setup:
        setup.execute("CREATE TABLE item (id INTEGER PRIMARY KEY)")
    return path


def _insert(path: Path, item: int) -> None:
    """One write through SQLAlchemy that gives up at once when another writer holds the lock."""
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO item (id) VALUES (:id)"), {"id": item})
    finally:
        engine.dispose()


def _hold_lock(path: Path, seconds: float) -> threading.Thread:
    """Another writer holding SQLite's write lock for ``seconds``."""
    locked = threading.Event()

    def hold() -> None:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        locked.set()
        threading.Event().wait(seconds)
        holder.execute("ROLLBACK")
        holder.close()

    thread = threading.Thread(target=hold)
    thread.start()
    locked.wait()
    return thread


def test_a_locked_database_is_transient_and_a_constraint_is_not(sqlite_file: Path) -> None:
    holder = _hold_lock(sqlite_file, 0.3)
    with pytest.raises(OperationalError) as locked:
        _insert(sqlite_file, 1)
    holder.join()
    _insert(sqlite_file, 2)
    with pytest.raises(IntegrityError) as duplicate:
        _insert(sqlite_file, 2)

    assert is_transient(locked.value)
    assert not is_transient(duplicate.value)


async def test_work_is_run_again_until_the_database_is_back(sqlite_file: Path) -> None:
    holder = _hold_lock(sqlite_file, 0.2)
    attempts = 0

    async def work() -> str:
        nonlocal attempts
        attempts += 1
        await asyncio.to_thread(_insert, sqlite_file, 7)
        return "written"

    result = await retry_transient(work, what="test", delays=(0.15, 0.3, 0.6))
    holder.join()
    assert result == "written" and attempts >= 2


async def test_a_database_that_stays_away_is_unavailable_with_retry_after(
    sqlite_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    holder = _hold_lock(sqlite_file, 0.5)
    attempts = 0

    async def work() -> None:
        nonlocal attempts
        attempts += 1
        await asyncio.to_thread(_insert, sqlite_file, 8)

    with (
        caplog.at_level(logging.WARNING, "mailbox.db"),
        pytest.raises(DatabaseUnavailable) as unavailable,
    ):
        await retry_transient(work, what="test", delays=(0.01, 0.01))
    holder.join()

    assert attempts == 3
    assert unavailable.value.status_code == 503 and unavailable.value.retry_after > 0
    assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING", "ERROR"]


async def test_the_works_own_error_is_not_retried(sqlite_file: Path) -> None:
    _insert(sqlite_file, 9)
    attempts = 0

    async def work() -> None:
        nonlocal attempts
        attempts += 1
        await asyncio.to_thread(_insert, sqlite_file, 9)

    with pytest.raises(IntegrityError):
        await retry_transient(work, what="test")
    assert attempts == 1
