"""Periodic jobs (APScheduler 3, ``AsyncIOScheduler``): the outbox drain, the legal scans
(deemed delivery, reminders), the evidence log's signed checkpoints, the daily digest, the
retention purge (content past its retention period crypto-shredded), the blob sweep (stale
temporary files, orphan blobs), the bulk dispatches (their items, chunk by chunk) and the daily
print batch of paper letters, run inside the web process or by ``python -m mailbox worker``.

Every job is ``max_instances=1, coalesce=True``: a slow round is never overlapped by the next
one, and rounds missed while the loop was busy collapse into one. A job's error is logged
(structured, with the job and worker ids) and the job runs again at its next time; it never
stops the scheduler. With several instances on PostgreSQL, each outbox drain shares the queue
and each bulk dispatch worker the batches' items (``SKIP LOCKED``) while the scans and
checkpoints run in one instance at a time (advisory
locks). On SQLite, which has neither, one process per database file runs them
(:mod:`.scheduler_lock`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from mailbox.config import Settings
from mailbox.deliveries.batch_runner import work_batches
from mailbox.deliveries.purge import purge_expired
from mailbox.deliveries.scans import run_legal_scans
from mailbox.evidence.checkpoints import make_checkpoint
from mailbox.notifications.digests import queue_digests
from mailbox.notifications.outbox import drain_until_idle
from mailbox.operations.blob_sweep import sweep_blobs
from mailbox.operations.scheduler_lock import SchedulerLock, SchedulerTaken, take_scheduler_lock
from mailbox.paper.batches import build_print_batches
from mailbox.services import Services

__all__ = ["PeriodicJobs", "SchedulerTaken", "run_worker", "start_scheduler", "worker_identity"]

log = logging.getLogger("mailbox.operations.scheduling")


class _BatchRunsOverlap(logging.Filter):
    """A run of the ``dispatch-batches`` job lasts as long as batches have items, so its next
    starts are skipped meanwhile by design (``max_instances=1``): APScheduler's warning about
    each skipped start says nothing an operator needs, every interval, for hours."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (
            message.startswith('Execution of job "dispatch-batches') and "skipped" in message
        )


_BATCH_RUNS_OVERLAP = _BatchRunsOverlap()


def worker_identity() -> str:
    """``host:pid``: names this process in logs and drain reports."""
    return f"{socket.gethostname()}:{os.getpid()}"


class PeriodicJobs:
    """The periodic jobs of this process (see :func:`start_scheduler`), and how to stop them
    without cutting the work in progress."""

    def __init__(self, services: Services, lock: SchedulerLock | None) -> None:
        self.services = services
        self.worker_id = worker_identity()
        self.stopping = False
        self._lock = lock
        self._running: set[asyncio.Task[Any]] = set()
        self.scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
        )

    @property
    def holds_lock(self) -> bool:
        """Whether this process holds the SQLite database's scheduler lock."""
        return self._lock is not None and self._lock.fd is not None

    def job(self, name: str, run: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[None]]:
        """``run`` as a job: its error logged (it runs again at its next time), its task known
        to :meth:`stop`, and nothing started once the jobs are stopping."""

        async def guarded() -> None:
            if self.stopping:
                return
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)
            try:
                await run()
            except Exception:
                log.exception("job failed", extra={"job": name, "worker_id": self.worker_id})
            finally:
                self._running.discard(task)

        return guarded

    async def stop(self, grace: float) -> None:
        """Start no new run, let the runs in progress finish (a drain stops after its current
        round) for up to ``grace`` seconds, then shut the scheduler down (which cancels what is
        left: a drain cut between sending and recording sends again after its lease, never
        loses a message) and let the next process take the scheduler."""
        self.stopping = True
        self.scheduler.pause()
        running = set(self._running)
        if running:
            log.info("waiting for %d job(s) in progress", len(running))
            _, late = await asyncio.wait(running, timeout=grace)
            if late:
                log.warning(
                    "%d job(s) still running after %.0f s: cut",
                    len(late),
                    grace,
                    extra={"worker_id": self.worker_id},
                )
        self.scheduler.shutdown(wait=False)
        if self._lock is not None:
            self._lock.release()
        log.info("scheduler stopped", extra={"worker_id": self.worker_id})


def start_scheduler(services: Services) -> PeriodicJobs:
    """Start the periodic jobs on the running event loop; the caller stops them
    (:meth:`PeriodicJobs.stop`). On SQLite the process must first take the database's
    scheduler lock: :class:`SchedulerTaken` when another process holds it.

    The drain, the legal scans, the checkpoint and the retention purge run at once, then every
    ``outbox_interval_seconds``, ``legal_scan_interval_seconds``,
    ``checkpoint_interval_seconds`` and ``retention_interval_seconds``; the digest runs at
    ``digest_hour_utc`` every day and once at start, to catch up on a day missed while the
    service was down; the blob sweep at once and then every ``blob_sweep_interval_seconds``;
    the print batch at ``paper_batch_hour_utc`` every day.
    """
    settings = services.settings
    me = worker_identity()
    apscheduler_log = logging.getLogger("apscheduler.scheduler")
    if _BATCH_RUNS_OVERLAP not in apscheduler_log.filters:
        apscheduler_log.addFilter(_BATCH_RUNS_OVERLAP)
    jobs = PeriodicJobs(services, take_scheduler_lock(settings, holder=me))
    try:
        _schedule(jobs, services, me)
    except BaseException:
        if jobs._lock is not None:
            jobs._lock.release()
        raise
    services.scheduler = (
        f"running here ({me}, holding the SQLite database's scheduler lock)"
        if jobs.holds_lock
        else f"running here ({me}; the outbox is shared, the scans run in one instance at a time)"
    )
    log.info("scheduler started", extra={"worker_id": me})
    return jobs


def _schedule(jobs: PeriodicJobs, services: Services, me: str) -> None:
    settings = services.settings
    scheduler = jobs.scheduler
    started = datetime.now(UTC)
    # Each periodic job: its name, what it runs, and the setting of its interval (seconds).
    periodic: tuple[tuple[str, Callable[[], Awaitable[Any]], float], ...] = (
        (
            "outbox-drain",
            lambda: drain_until_idle(services, worker_id=me, stopping=lambda: jobs.stopping),
            settings.outbox_interval_seconds,
        ),
        ("legal-scan", lambda: run_legal_scans(services), settings.legal_scan_interval_seconds),
        ("checkpoint", lambda: make_checkpoint(services), settings.checkpoint_interval_seconds),
        ("retention", lambda: purge_expired(services), settings.retention_interval_seconds),
        ("blob-sweep", lambda: sweep_blobs(services), settings.blob_sweep_interval_seconds),
        (
            "dispatch-batches",
            lambda: work_batches(services, worker_id=me, stopping=lambda: jobs.stopping),
            settings.batch_interval_seconds,
        ),
    )
    for name, run, seconds in periodic:
        scheduler.add_job(
            jobs.job(name, run),
            "interval",
            seconds=seconds,
            id=name,
            name=name,
            next_run_time=started,
        )
    # The daily print batch: each office's letters not yet in one, for the contractor.
    batch = jobs.job("paper-batch", lambda: build_print_batches(services))
    scheduler.add_job(
        batch, "cron", hour=settings.paper_batch_hour_utc, id="paper-batch", name="paper-batch"
    )
    digest = jobs.job("digest", lambda: queue_digests(services))
    scheduler.add_job(digest, "cron", hour=settings.digest_hour_utc, id="digest", name="digest")
    scheduler.add_job(
        digest, "date", run_date=started, id="digest-catch-up", name="digest-catch-up"
    )
    scheduler.start()


async def run_worker(settings: Settings) -> None:
    """Run the periodic jobs without the web server until SIGINT or SIGTERM, then stop them
    gracefully (:meth:`PeriodicJobs.stop`, within ``shutdown_grace_seconds``).
    :class:`SchedulerTaken` at once when another process runs this SQLite database's jobs."""
    from mailbox.db import assert_migrated

    # The worker seals the items of bulk dispatches: with the sealing processes of the settings.
    services = Services.start(settings)
    try:
        await assert_migrated(services.db)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        jobs = start_scheduler(services)
        await stop.wait()
        await jobs.stop(settings.shutdown_grace_seconds)
        log.info("worker stopped", extra={"worker_id": worker_identity()})
    finally:
        await services.close()
