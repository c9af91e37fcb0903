"""Is this instance fit to serve, and how is its work going: the readiness checks behind
``/health/ready`` and the database figures behind ``/metrics``.

Readiness answers one question, the load balancer's: *may this instance take requests?* It
fails (503) when the instance cannot do its part: the database unreachable or not migrated,
the blob store not writable, the keys not loadable. What waits in the outbox is not that
instance's failure: a mail server down (the email circuit open) or an old outbox message makes
the instance *degraded*, shown in the body and in the metrics, but it stays ready; taking every
web instance out of the balancer because the mail server is down would stop dispatches and
pickups too, and the alerts would go out no sooner.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox import metrics
from mailbox.clock import now, to_utc
from mailbox.db import assert_migrated
from mailbox.evidence.checkpoints import latest_checkpoint
from mailbox.models import Channel, EvidenceHead, OutboxKind, OutboxMessage, OutboxStatus
from mailbox.services import Services
from mailbox.signing.pki import load_key_material
from mailbox.storage.blobs import load_master_key

__all__ = ["Check", "Readiness", "backlog", "readiness", "scrape"]

Status = Literal["ok", "degraded", "failing"]

# A check that takes longer than this has failed: a probe must answer quickly.
_CHECK_TIMEOUT = 5.0


@dataclass(frozen=True)
class Check:
    """One readiness check: ``ok``, ``degraded`` (works, but an operator should look) or
    ``failing`` (this instance cannot serve), and what was found."""

    status: Status
    detail: str


@dataclass(frozen=True)
class Readiness:
    """Every check by name; ready unless one is failing."""

    checks: dict[str, Check]

    @property
    def ready(self) -> bool:
        return all(check.status != "failing" for check in self.checks.values())

    @property
    def status(self) -> str:
        if not self.ready:
            return "not ready"
        degraded = any(check.status == "degraded" for check in self.checks.values())
        return "degraded" if degraded else "ready"


async def backlog(*, session: AsyncSession) -> metrics.Backlog:
    """What waits and what was recorded, from the database: pending outbox messages and the
    age of the oldest one by channel, evidence records, age of the newest checkpoint."""
    at = now()
    rows = (
        await session.exec(
            select(OutboxMessage.kind, func.count(), func.min(OutboxMessage.created_at))
            .where(OutboxMessage.status == OutboxStatus.PENDING)
            .group_by(col(OutboxMessage.kind))
        )
    ).all()
    depth: dict[str, int] = {}
    oldest: dict[str, datetime] = {}
    for kind, count, created_at in rows:
        try:
            channel = OutboxKind(kind).channel.value
        except ValueError:  # a kind of a newer version: counted under its prefix
            channel = str(kind).partition(".")[0]
        depth[channel] = depth.get(channel, 0) + count
        created = _aware(created_at)
        if created is not None and (channel not in oldest or created < oldest[channel]):
            oldest[channel] = created
    head = await session.get(EvidenceHead, 1)
    checkpoint = await latest_checkpoint(session=session)
    return metrics.Backlog(
        outbox_depth=depth,
        outbox_oldest_age={c: max((at - t).total_seconds(), 0.0) for c, t in oldest.items()},
        evidence_records=head.seq if head is not None else 0,
        checkpoint_age=(at - checkpoint.created_at).total_seconds() if checkpoint else None,
    )


async def scrape(services: Services, *, session: AsyncSession) -> bytes:
    """The metrics in the Prometheus text format, the database gauges read now."""
    metrics.observe_backlog(await backlog(session=session), [c.value for c in Channel])
    metrics.observe_circuits({c.value: services.circuits[c].is_open for c in Channel})
    return metrics.render()


async def readiness(services: Services) -> Readiness:
    """Run every check (each bounded in time) and say whether this instance is ready."""
    settings = services.settings
    database, found = await _database(services)
    checks = {
        "database": database,
        "blobs": await _bounded(_blobs_writable(services)),
        "keys": await _bounded(_keys_loadable(services)),
        "email": _circuit(services),
        "scheduler": Check("ok", services.scheduler),
        "outbox": _outbox(found, settings.ready_outbox_max_age_seconds),
    }
    return Readiness(checks)


async def _database(services: Services) -> tuple[Check, metrics.Backlog | None]:
    async def probe() -> metrics.Backlog:
        await assert_migrated(services.db)
        async with services.db.session() as session:
            return await backlog(session=session)

    try:
        found = await asyncio.wait_for(probe(), _CHECK_TIMEOUT)
    except TimeoutError:
        return Check("failing", f"no answer within {_CHECK_TIMEOUT:.0f} s"), None
    except Exception as exc:
        return Check("failing", _reason(exc)), None
    return Check("ok", f"reachable, migrated; {found.evidence_records} evidence records"), found


async def _bounded(check: Awaitable[Check]) -> Check:
    try:
        return await asyncio.wait_for(check, _CHECK_TIMEOUT)
    except TimeoutError:
        return Check("failing", f"no answer within {_CHECK_TIMEOUT:.0f} s")


async def _blobs_writable(services: Services) -> Check:
    directory = services.settings.effective_blob_dir

    def probe() -> None:
        # A file created and removed where the blobs go: the disk is there and takes writes.
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".ready-", delete=True) as file:
            file.write(b"ready")
            file.flush()

    try:
        await asyncio.to_thread(probe)
    except OSError as exc:
        return Check("failing", f"cannot write in the blob store: {_reason(exc)}")
    return Check("ok", "writable")


async def _keys_loadable(services: Services) -> Check:
    key_dir = services.settings.effective_key_dir

    def probe() -> None:
        load_key_material(key_dir)
        load_master_key(key_dir)

    try:
        await asyncio.to_thread(probe)
    except Exception as exc:
        return Check("failing", f"cannot load the keys: {_reason(exc)}")
    return Check("ok", "loadable")


def _circuit(services: Services) -> Check:
    circuit = services.circuits[Channel.EMAIL]
    if circuit.is_open:
        return Check("degraded", f"circuit {circuit.health()}; alerts wait, nothing is lost")
    return Check("ok", "circuit closed")


def _outbox(found: metrics.Backlog | None, max_age: float) -> Check:
    if found is None:
        return Check("degraded", "unknown: the database did not answer")
    waiting = sum(found.outbox_depth.values())
    oldest = max(found.outbox_oldest_age.values(), default=0.0)
    detail = f"{waiting} pending, the oldest {oldest:.0f} s old"
    if oldest > max_age:
        return Check("degraded", f"{detail} (more than {max_age:.0f} s)")
    return Check("ok", detail)


def _aware(value: datetime | None) -> datetime | None:
    # An aggregate bypasses the UTC column type: SQLite hands back a naive datetime or text.
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return to_utc(value)


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "detail", "") or exc) or type(exc).__name__
    return text.splitlines()[0][:300]
