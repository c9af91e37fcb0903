"""Periodic jobs (APScheduler 3, AsyncIOScheduler). Filled in by the notification work:
outbox drain, reminders, deemed delivery, digests."""

from __future__ import annotations

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from mailbox.services import Services

__all__ = ["start_scheduler"]


def start_scheduler(services: Services) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.start()
    return scheduler
