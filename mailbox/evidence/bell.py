"""The in-process bell of the evidence log: rung right after a transaction that appended
evidence commits, so that whoever waits for new records in this process (the event feed's
long-poll) hears of them at once instead of at its next poll.

It only ever wakes waiters earlier: a waiter also polls the log's head, which is how it hears
of records appended by other processes (other instances, the CLI, the scheduler elsewhere).
:func:`mailbox.evidence.log.append_entries` marks the session; a SQLAlchemy ``after_commit``
hook rings for marked sessions, and a rollback clears the mark.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

__all__ = ["listen", "mark_appended", "unlisten"]

_MARK = "mailbox.evidence.appended"
_listeners: set[Callable[[], None]] = set()
_lock = threading.Lock()


def listen(callback: Callable[[], None]) -> None:
    """Call ``callback`` (quickly, from whatever thread commits) after each commit that
    appended evidence in this process."""
    with _lock:
        _listeners.add(callback)


def unlisten(callback: Callable[[], None]) -> None:
    """Stop calling ``callback``."""
    with _lock:
        _listeners.discard(callback)


def mark_appended(session: Session) -> None:
    """Note that ``session``'s transaction appended evidence (the bell rings at its commit)."""
    session.info[_MARK] = True


@event.listens_for(Session, "after_commit")
def _ring(session: Session) -> None:
    if not session.info.pop(_MARK, False):
        return
    with _lock:
        callbacks = list(_listeners)
    for callback in callbacks:
        callback()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session, *_: Any) -> None:
    session.info.pop(_MARK, None)
