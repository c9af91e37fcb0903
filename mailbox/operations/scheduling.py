"""Periodic jobs (APScheduler 3, ``AsyncIOScheduler``): the outbox drain, the legal scans
(deemed delivery, reminders), the evidence log's signed checkpoints, the daily digest, the
retention purge (content past its retention period crypto-shredded) and the blob sweep (stale
temporary files, orphan blobs), run inside the web process or by ``python -m mailbox worker``.

Every job is ``max_instances=1, coalesce=True``: a slow round is never overlapped by the next
one, and rounds missed while the loop was busy collapse into one. A job's error is logged
(structured, with the job and worker ids) and the job runs again at its next time; it never
stops the scheduler. With several instances on PostgreSQL, each outbox drain shares the queue
(``SKIP LOCKED``) while the scans and checkpoints run in one instance at a time (advisory
locks).
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
from mailbox.deliveries.purge import purge_expired
from mailbox.deliveries.scans import run_legal_scans
from mailbox.evidence.checkpoints import make_checkpoint
from mailbox.notifications.digests import queue_digests
from mailbox.notifications.outbox import drain_until_idle
from mailbox.operations.blob_sweep import sweep_blobs
from mailbox.services import Services

__all__ = ["run_worker", "start_scheduler", "worker_identity"]

log = logging.getLogger("mailbox.operations.scheduling")

# Seconds a stopping worker waits for the job in progress (a drain between sending and
# recording) before it gives up; what it abandons is sent again after the lease, never lost.
_STOP_GRACE = 30.0


def worker_identity() -> str:
    """``host:pid``: names this process in logs and drain reports."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _logged(
    job: str, worker_id: str, run: Callable[[], Awaitable[Any]]
) -> Callable[[], Awaitable[None]]:
    async def guarded() -> None:
        try:
            await run()
        except Exception:
            log.exception("job failed", extra={"job": job, "worker_id": worker_id})

    return guarded


def start_scheduler(services: Services) -> AsyncIOScheduler:
    """Start the periodic jobs on the running event loop; the caller shuts the scheduler down.

    The drain, the legal scans, the checkpoint and the retention purge run at once, then every
    ``outbox_interval_seconds``, ``legal_scan_interval_seconds``,
    ``checkpoint_interval_seconds`` and ``retention_interval_seconds``; the digest runs at
    ``digest_hour_utc`` every day and once at start, to catch up on a day missed while the
    service was down; the blob sweep at once and then every ``blob_sweep_interval_seconds``.
    """
    settings = services.settings
    me = worker_identity()
    scheduler = AsyncIOScheduler(
        timezone=UTC,
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )
    started = datetime.now(UTC)
    scheduler.add_job(
        _logged("outbox-drain", me, lambda: drain_until_idle(services, worker_id=me)),
        "interval",
        seconds=settings.outbox_interval_seconds,
        id="outbox-drain",
        name="outbox-drain",
        next_run_time=started,
    )
    scheduler.add_job(
        _logged("legal-scan", me, lambda: run_legal_scans(services)),
        "interval",
        seconds=settings.legal_scan_interval_seconds,
        id="legal-scan",
        name="legal-scan",
        next_run_time=started,
    )
    scheduler.add_job(
        _logged("checkpoint", me, lambda: make_checkpoint(services)),
        "interval",
        seconds=settings.checkpoint_interval_seconds,
        id="checkpoint",
        name="checkpoint",
        next_run_time=started,
    )
    scheduler.add_job(
        _logged("retention", me, lambda: purge_expired(services)),
        "interval",
        seconds=settings.retention_interval_seconds,
        id="retention",
        name="retention",
        next_run_time=started,
    )
    scheduler.add_job(
        _logged("blob-sweep", me, lambda: sweep_blobs(services)),
        "interval",
        seconds=settings.blob_sweep_interval_seconds,
        id="blob-sweep",
        name="blob-sweep",
        next_run_time=started,
    )
    digest = _logged("digest", me, lambda: queue_digests(services))
    scheduler.add_job(digest, "cron", hour=settings.digest_hour_utc, id="digest", name="digest")
    scheduler.add_job(
        digest, "date", run_date=started, id="digest-catch-up", name="digest-catch-up"
    )
    scheduler.start()
    log.info("scheduler started", extra={"worker_id": me})
    return scheduler


async def run_worker(settings: Settings) -> None:
    """Run the periodic jobs without the web server until SIGINT or SIGTERM."""
    from mailbox.db import assert_migrated

    services = Services.start(settings, sealing_workers=0)
    try:
        await assert_migrated(services.db)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        scheduler = start_scheduler(services)
        await stop.wait()
        scheduler.shutdown(wait=False)
        running = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if running:
            await asyncio.wait(running, timeout=_STOP_GRACE)
        log.info("worker stopped", extra={"worker_id": worker_identity()})
    finally:
        await services.close()
