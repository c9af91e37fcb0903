"""The event feed: every delivery event a caller may see, in one total order that never
changes, read page by page from a cursor the client keeps (``GET /api/v1/events``).

What an event is: an evidence record of a delivery whose type the one table of follow-ups
names (:data:`mailbox.deliveries.events.FEED_EVENTS`, the same names webhooks use:
``delivery.available``, ``delivery.picked_up``, ...). Its id is the record's id.

The order is the evidence log's ``seq``. That number is taken under the log head's row lock,
which the appending transaction holds until it commits (:mod:`mailbox.evidence.log`), so it is
gap-free and follows commit order: while a transaction holds number n uncommitted, nobody can
take n+1. Whatever a reader sees is therefore a prefix 1..head of the log with nothing
missing, and "everything after my cursor" can never skip a record that commits late with a
smaller number, which a plain autoincrement id or a timestamp would (they are taken before the
commit, and commits finish in any order). A page is read as: the head (one row) first, then
the caller's records in ``(cursor, head]``; every record up to the head had committed before the
head was read, so the later statements see all of them, on PostgreSQL and on SQLite alike.
The records are read a bounded window of positions per statement, so that a caller far
behind never makes one statement sort its whole backlog.

A cursor names a position in the whole log, not in the caller's events: a page that holds
fewer events than asked moves the cursor to the head it read, so a caller who sees few events
never rescans the log. It is opaque to clients and MACed with a key derived from the evidence
key (the same in every process of an install, kept across restarts), so a cursor the service
did not issue is refused with a 400 problem. The same cursor rides on each webhook
(:mod:`.webhook_events`): a client that missed webhooks resumes the feed from the last one it
got.

Who sees which event is the access policy's one answer (:data:`Action.READ_EVIDENCE`):
account grantees their accounts' deliveries, dispatchers and auditors their office's.
Long-polling (waiting for the next event) is :mod:`.feed_wait`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.deliveries.events import FEED_EVENTS
from mailbox.errors import Conflict, FieldError, InvalidCursor, InvalidRequest
from mailbox.identity.policy import Action, accounts_where, offices_where
from mailbox.identity.principal import Principal
from mailbox.models import Delivery, EvidenceHead, EvidenceRecord
from mailbox.pagination import MAX_LIMIT

if TYPE_CHECKING:
    from mailbox.signing.pki import KeyMaterial

__all__ = [
    "MAX_WAIT_SECONDS",
    "WINDOW",
    "FeedCursors",
    "FeedEvent",
    "FeedPage",
    "check_feed_request",
    "cursors_for",
    "log_head",
    "read_page",
]

MAX_WAIT_SECONDS = 30
# The event name of each record type, and the record types, of the one table of follow-ups.
_NAMES = {str(event): name for event, name in FEED_EVENTS.items()}
_PREFIX = "e1"  # the cursor format's version
_CURSOR = re.compile(r"e1\.([0-9]{1,18})\.([0-9a-z]{1,10})\.([A-Za-z0-9_-]{22})")
_MAX_CURSOR_LENGTH = 80
WINDOW = 5000  # log positions one statement looks at


@dataclass(frozen=True)
class FeedEvent:
    """One event as the feed (and a webhook) tells it."""

    event_id: str  # the evidence record's id
    seq: int  # its position in the log (inside the cursor; not shown)
    type: str  # "delivery.available", ...
    occurred_at: datetime
    delivery_id: str
    account_id: str
    office_id: str
    dossier_number: str
    cursor: str  # resumes right after this event


@dataclass(frozen=True)
class FeedPage:
    items: list[FeedEvent]
    next_cursor: str  # resumes after the last event, or after everything read
    position: int  # the log position next_cursor names


class FeedCursors:
    """Makes and reads feed cursors: ``e1.<position>.<tag>.<MAC>``. The tag is the end of the
    id of the record at that position (``0`` for the start), so a cursor from a log that was
    since rewound (restored from a backup) is recognised instead of silently skipping the
    records that now take its positions; the MAC is a truncated HMAC-SHA256 (128 bits) under
    a key only the service holds."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, position: int, tag: str) -> str:
        body = f"{_PREFIX}.{position}.{tag}".encode()
        digest = hmac.new(self._key, body, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()

    def make(self, position: int, record_id: str | None) -> str:
        """The cursor that resumes after log position ``position``, whose record is
        ``record_id`` (``None`` only for position 0, the start)."""
        tag = _tag(record_id) if position else "0"
        return f"{_PREFIX}.{position}.{tag}.{self._mac(position, tag)}"

    def read(self, cursor: str | None) -> tuple[int, str]:
        """The position ``cursor`` names and its record's tag ((0, "0"), the start, without
        one); :class:`InvalidCursor` for anything this service did not issue."""
        if not cursor:
            return 0, "0"
        found = _CURSOR.fullmatch(cursor) if len(cursor) <= _MAX_CURSOR_LENGTH else None
        if found is None or not hmac.compare_digest(
            self._mac(int(found.group(1)), found.group(2)), found.group(3)
        ):
            raise InvalidCursor(
                "The cursor is not one this service issued; start again without one, or from "
                "the last cursor you received",
                errors=[FieldError("after", "not a cursor of this service")],
            )
        return int(found.group(1)), found.group(2)


def _tag(record_id: str | None) -> str:
    # The last 10 characters of an id are random (50 bits): see mailbox.ids.new_id.
    return (record_id or "")[-10:] or "0"


def _cursor_key(keys: KeyMaterial) -> bytes:
    # The evidence key lives as long as the log does (replacing it would orphan every record),
    # so cursors stay good across restarts and in every process of the install.
    secret = keys.evidence_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"mailbox event feed cursors v1"
    ).derive(secret)


_cursor_cache: dict[Path, FeedCursors] = {}


def cursors_for(keys: KeyMaterial) -> FeedCursors:
    """The cursors of the install whose keys are ``keys`` (the same in all its processes)."""
    found = _cursor_cache.get(keys.key_dir)
    if found is None:
        found = _cursor_cache[keys.key_dir] = FeedCursors(_cursor_key(keys))
    return found


def check_feed_request(limit: int, wait: float) -> None:
    """Refuse a page size outside 1..MAX_LIMIT or a wait outside 0..MAX_WAIT_SECONDS (one
    422 problem naming both), before any work."""
    errors = []
    if not 1 <= limit <= MAX_LIMIT:
        errors.append(FieldError("limit", f"1..{MAX_LIMIT}"))
    if not 0 <= wait <= MAX_WAIT_SECONDS:
        errors.append(FieldError("wait", f"0..{MAX_WAIT_SECONDS} seconds"))
    if errors:
        raise InvalidRequest("The feed request is out of range", errors=errors)


async def log_head(*, session: AsyncSession) -> int:
    """The newest committed position of the evidence log (0 when it is empty)."""
    head = (
        await session.exec(select(EvidenceHead.seq).where(col(EvidenceHead.id) == 1))
    ).one_or_none()
    return head or 0


async def read_page(
    *,
    session: AsyncSession,
    principal: Principal,
    cursors: FeedCursors,
    after: int,
    tag: str = "0",
    limit: int,
    window: int = WINDOW,
) -> FeedPage:
    """The first ``limit`` events after position ``after`` (whose record's id ends in ``tag``)
    that the principal may see, in log order, and the cursor to continue from. A position
    whose record is not the one the cursor named (the log was restored from a backup since)
    is a :class:`Conflict`. The log is read ``window`` positions a statement,
    so that no statement sorts more than that many records, however far behind the caller is
    or however many events it sees."""
    head = await log_head(session=session)  # first: everything up to it has committed
    if after and _tag(await _record_id(session, after)) != tag:
        raise Conflict(
            "The evidence log no longer holds the event this cursor follows (was the service "
            "restored from a backup?): read the feed from the start and skip the event ids "
            "you already have",
            errors=[FieldError("after", "not a position of the log as it is now")],
        )
    accounts = accounts_where(principal, Action.READ_EVIDENCE)
    offices = offices_where(principal, Action.READ_EVIDENCE)
    if head <= after or not (accounts or offices):
        position = max(after, head)
        return FeedPage([], await _cursor_at(session, cursors, position), position)
    items: list[FeedEvent] = []
    low = after
    while low < head and len(items) < limit:
        high = min(head, low + window)
        items += await _events_between(
            session, cursors, low, high, accounts, offices, limit - len(items)
        )
        low = high
    # A full page may have more after it; a short one read everything up to the head.
    if len(items) == limit:
        return FeedPage(items, items[-1].cursor, items[-1].seq)
    return FeedPage(items, await _cursor_at(session, cursors, head), head)


async def _record_id(session: AsyncSession, position: int) -> str | None:
    return (
        await session.exec(select(EvidenceRecord.id).where(col(EvidenceRecord.seq) == position))
    ).one_or_none()


async def _cursor_at(session: AsyncSession, cursors: FeedCursors, position: int) -> str:
    return cursors.make(position, await _record_id(session, position) if position else None)


async def _events_between(
    session: AsyncSession,
    cursors: FeedCursors,
    low: int,
    high: int,
    accounts: list[str],
    offices: list[str],
    limit: int,
) -> list[FeedEvent]:
    """The first ``limit`` events in positions (low, high] of the accounts' or offices'
    deliveries."""
    rows = (
        await session.exec(
            select(
                EvidenceRecord.seq,
                EvidenceRecord.id,
                EvidenceRecord.type,
                EvidenceRecord.occurred_at,
                Delivery.id,
                Delivery.account_id,
                Delivery.office_id,
                Delivery.dossier_number,
            )
            .join(Delivery, col(Delivery.id) == col(EvidenceRecord.delivery_id))
            .where(col(EvidenceRecord.seq) > low, col(EvidenceRecord.seq) <= high)
            .where(col(EvidenceRecord.type).in_(list(_NAMES)))
            .where(
                or_(col(Delivery.account_id).in_(accounts), col(Delivery.office_id).in_(offices))
            )
            .order_by(col(EvidenceRecord.seq))
            .limit(limit)
        )
    ).all()
    return [
        FeedEvent(
            event_id=record_id,
            seq=seq,
            type=_NAMES[record_type],
            occurred_at=occurred_at,
            delivery_id=delivery_id,
            account_id=account_id,
            office_id=office_id,
            dossier_number=dossier_number,
            cursor=cursors.make(seq, record_id),
        )
        for (
            seq,
            record_id,
            record_type,
            occurred_at,
            delivery_id,
            account_id,
            office_id,
            dossier_number,
        ) in rows
    ]
