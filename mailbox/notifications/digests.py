"""The daily digest: accounts in ``digest`` mode get one email a day listing the documents made
available since their previous digest, instead of one alert per document.

The scan queues one ``email.digest`` outbox row per account and day and moves the account's
``last_digest_at`` in the same transaction, so running it again the same day does nothing and
running it after downtime catches up. Deliveries already notified (or gone to paper) are not
listed again.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.db import try_advisory_lock
from mailbox.models import Account, Delivery, DeliveryStatus, OutboxKind, OutboxMessage
from mailbox.services import Services

__all__ = ["DIGEST_LOCK", "digest_cutoff", "queue_digests"]

log = logging.getLogger("mailbox.notifications.digests")

DIGEST_LOCK = 0x6D_62_78_02  # advisory lock key ("mbx" + 2)
BATCH = 500
_LISTED = (DeliveryStatus.AVAILABLE, DeliveryStatus.PICKED_UP, DeliveryStatus.DEEMED_DELIVERED)


def digest_cutoff(at: datetime, hour: int) -> datetime:
    """The most recent daily digest time (``hour`` o'clock UTC) at or before ``at``."""
    today = at.replace(hour=hour, minute=0, second=0, microsecond=0)
    return today if at >= today else today - timedelta(days=1)


async def queue_digests(services: Services, *, batch: int = BATCH) -> int:
    """Queue today's digest for every digest-mode account that has not had it; return how many
    digests were queued (accounts with nothing new get none, but their day is marked)."""
    cutoff = digest_cutoff(now(), services.settings.digest_hour_utc)
    total, after = 0, ""
    while True:
        async with services.db.write() as session:
            if not await try_advisory_lock(session, DIGEST_LOCK):
                log.debug("digest skipped: another instance holds the lock")
                return total
            at = now()
            accounts = (
                await session.exec(
                    select(Account)
                    .where(Account.notify_mode == "digest")
                    .where(
                        or_(
                            col(Account.last_digest_at).is_(None),
                            col(Account.last_digest_at) < cutoff,
                        )
                    )
                    .where(col(Account.id) > after)
                    .order_by(col(Account.id))
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            listed = await _new_deliveries(session, accounts, at)
            for account in accounts:
                delivery_ids = listed.get(account.id, [])
                if delivery_ids:
                    session.add(
                        OutboxMessage(
                            kind=OutboxKind.EMAIL_DIGEST,
                            account_id=account.id,
                            payload={"delivery_ids": delivery_ids},
                        )
                    )
                    total += 1
                account.last_digest_at = at
                session.add(account)
        if len(accounts) < batch:
            if total:
                log.info("queued %d digests", total)
            return total
        after = accounts[-1].id


async def _new_deliveries(
    session: AsyncSession, accounts: Sequence[Account], at: datetime
) -> dict[str, list[str]]:
    """Per account: deliveries made available since its last digest, not yet notified."""
    if not accounts:
        return {}
    since = {a.id: a.last_digest_at for a in accounts}
    rows = await session.exec(
        select(Delivery.id, Delivery.account_id, Delivery.available_at)
        .where(col(Delivery.account_id).in_(list(since)))
        .where(col(Delivery.status).in_(_LISTED))
        .where(col(Delivery.notified_at).is_(None))
        .where(col(Delivery.available_at) <= at)
        .order_by(col(Delivery.available_at), col(Delivery.id))
    )
    listed: dict[str, list[str]] = defaultdict(list)
    for delivery_id, account_id, available_at in rows:
        last = since[account_id]
        if last is None or available_at > last:
            listed[account_id].append(delivery_id)
    return listed
