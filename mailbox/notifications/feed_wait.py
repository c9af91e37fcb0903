"""Following the event feed: one page now, or (long-poll, ``wait`` seconds) the first page that
holds an event the caller may see, as soon as one commits.

A waiting request holds no database connection. It waits on its process's :class:`FeedWatch`,
which wakes waiters when the evidence log's head moves: at once for commits of this process
(the evidence bell, :mod:`mailbox.evidence.bell`), and within ``feed_poll_interval_seconds``
for commits of other processes (one task polls the one-row head while anyone waits, whatever
the number of waiters; the same on PostgreSQL and SQLite). A woken waiter reads its page again
from its position; events it may not see only move its position on. At most
``feed_max_waiting`` requests wait in one process; more are refused with 503 and Retry-After,
so that long-polls cannot use up the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator

from mailbox.db import Database
from mailbox.errors import Unavailable
from mailbox.evidence import bell
from mailbox.identity.principal import Principal
from mailbox.notifications.feed import (
    FeedPage,
    check_feed_request,
    cursors_for,
    log_head,
    read_page,
)
from mailbox.services import Services

__all__ = ["FeedWatch", "follow_feed", "watch_for"]

log = logging.getLogger("mailbox.feed")
# How long a refused long-poll should wait before asking again.
BUSY_RETRY_AFTER = 2


class FeedWatch:
    """The waiters of one database in this process, and what wakes them (see the module)."""

    def __init__(self, db: Database, *, interval: float, capacity: int) -> None:
        self._db = db
        self.interval = interval
        self.capacity = capacity
        self.waiting = 0
        self.head: int | None = None  # the newest head the poll read
        self._moved = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def moved(self) -> asyncio.Event:
        """Set when the head moves after this was read (a fresh event each time)."""
        return self._moved

    def _wake(self) -> None:
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    def _rung(self) -> None:
        # The bell rings from whatever thread committed: hop onto our loop.
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake)

    async def _poll(self) -> None:
        try:
            while self.waiting:
                try:
                    async with self._db.session() as session:
                        head = await log_head(session=session)
                except Exception:  # the database is away: waiters time out, or the bell rings
                    log.warning("event feed: reading the evidence head failed", exc_info=True)
                else:
                    if head != self.head:
                        self.head = head
                        self._wake()
                await asyncio.sleep(self.interval)
        finally:
            self._poller = None

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Be one of the waiters for the block; :class:`Unavailable` (503) when
        ``capacity`` requests wait already."""
        if self.waiting >= self.capacity:
            raise Unavailable(
                f"{self.capacity} requests are waiting for events already; ask again shortly "
                "(or without wait)",
                retry_after=BUSY_RETRY_AFTER,
            )
        self._loop = asyncio.get_running_loop()
        if self.waiting == 0:
            bell.listen(self._rung)
        self.waiting += 1
        if self._poller is None:
            self._poller = asyncio.create_task(self._poll())
        try:
            yield
        finally:
            self.waiting -= 1
            if self.waiting == 0:
                bell.unlisten(self._rung)


_watches: weakref.WeakKeyDictionary[Database, FeedWatch] = weakref.WeakKeyDictionary()


def watch_for(services: Services) -> FeedWatch:
    """This process's watch of the services' database."""
    watch = _watches.get(services.db)
    if watch is None:
        settings = services.settings
        watch = _watches[services.db] = FeedWatch(
            services.db,
            interval=settings.feed_poll_interval_seconds,
            capacity=settings.feed_max_waiting,
        )
    return watch


async def follow_feed(
    services: Services, principal: Principal, *, after: str | None, limit: int, wait: float
) -> FeedPage:
    """The events after cursor ``after`` that the principal may see (at most ``limit``); when
    there are none yet and ``wait`` > 0, the first page that holds one, as soon as one commits,
    or an empty page with a cursor at the head once ``wait`` seconds have passed."""
    check_feed_request(limit, wait)
    cursors = cursors_for(services.keys)
    position, tag = cursors.read(after)

    async def read(position: int, tag: str) -> FeedPage:
        async with services.db.session() as session:
            return await read_page(
                session=session,
                principal=principal,
                cursors=cursors,
                after=position,
                tag=tag,
                limit=limit,
            )

    page = await read(position, tag)
    if page.items or wait <= 0:
        return page
    watch = watch_for(services)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    async with watch.slot():
        while True:
            # Taken before reading: a wake-up while the page is read is not lost. The first
            # round reads again, now that commits are heard (one may have come since).
            moved = watch.moved
            page = await read(page.position, cursors.read(page.next_cursor)[1])
            if page.items:
                return page
            remaining = deadline - loop.time()
            if remaining <= 0:
                return page
            if watch.head is None or watch.head <= page.position:
                try:
                    await asyncio.wait_for(moved.wait(), remaining)
                except TimeoutError:
                    return page
