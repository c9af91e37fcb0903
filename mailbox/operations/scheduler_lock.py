"""One scheduler per SQLite database: a lock file next to the database, held with ``flock``
for as long as a process runs the periodic jobs.

SQLite has no ``FOR UPDATE SKIP LOCKED`` and no advisory locks, so two processes draining the
same file would both claim and send the same alerts. The scheduler therefore runs in one
process per database file: the first ``serve`` or ``worker`` to start takes the lock
(``<database>.scheduler.lock``, which names its holder); a second one is refused with a message
naming the first. The kernel lets go of the lock when its holder exits, however it exits, so a
crashed process never blocks the next one.

On PostgreSQL there is no lock: any number of workers share the outbox (``SKIP LOCKED``) and
the scans and checkpoints run in one instance at a time (advisory locks).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from mailbox.config import Settings
from mailbox.db import sqlite_file
from mailbox.errors import MailboxError

__all__ = ["SchedulerLock", "SchedulerTaken", "lock_path", "take_scheduler_lock"]

_SUFFIX = ".scheduler.lock"


class SchedulerTaken(MailboxError):
    """Another process already runs the scheduler of this SQLite database."""

    status_code = 409
    title = "The scheduler already runs elsewhere"


@dataclass
class SchedulerLock:
    """The held lock (``fd`` open, ``flock``-ed) on ``path``; :meth:`release` lets it go."""

    path: Path
    fd: int | None

    def release(self) -> None:
        """Let the next process take the scheduler; idempotent."""
        if self.fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def lock_path(settings: Settings) -> Path | None:
    """The scheduler's lock file for ``settings``' database; ``None`` when it is not a SQLite
    file (PostgreSQL coordinates its workers itself)."""
    database = sqlite_file(settings.effective_database_url)
    if database is None:
        return None
    return database.with_name(database.name + _SUFFIX)


def take_scheduler_lock(settings: Settings, *, holder: str) -> SchedulerLock | None:
    """Take the scheduler lock of the SQLite database, writing ``holder`` (``host:pid``) into
    it; ``None`` (nothing to hold) on PostgreSQL. :class:`SchedulerTaken`, naming the holder,
    when another process has it."""
    path = lock_path(settings)
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not inherited by child processes (the sealing pool): the lock is this process's alone.
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        database = path.with_name(path.name.removesuffix(_SUFFIX))
        holder_now = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise SchedulerTaken(
            f"The scheduler of the SQLite database {database} "
            f"already runs in {holder_now} (lock file {path}). On SQLite only one process may "
            "send alerts and run the periodic jobs: stop the other one, or start this one with "
            "MAILBOX_SCHEDULER_ENABLED=false."
        ) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{holder}\n".encode(), 0)
    return SchedulerLock(path, fd)
