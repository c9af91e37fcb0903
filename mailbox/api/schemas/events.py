"""Schemas of the event feed (``GET /api/v1/events``): transport only."""

from __future__ import annotations

from msgspec import Struct

from mailbox.notifications.feed import FeedEvent, FeedPage
from mailbox.timefmt import rfc3339

__all__ = ["EventPagePublic", "EventPublic"]


class EventPublic(Struct, kw_only=True):
    """One event: ``event_id`` is its evidence record's id (also in webhooks and the
    delivery's timeline); ``cursor`` resumes right after it."""

    event_id: str
    type: str
    occurred_at: str
    delivery_id: str
    account_id: str
    office_id: str
    dossier_number: str
    cursor: str

    @classmethod
    def of(cls, event: FeedEvent) -> EventPublic:
        return cls(
            event_id=event.event_id,
            type=event.type,
            occurred_at=rfc3339(event.occurred_at),
            delivery_id=event.delivery_id,
            account_id=event.account_id,
            office_id=event.office_id,
            dossier_number=event.dossier_number,
            cursor=event.cursor,
        )


class EventPagePublic(Struct):
    """The events in log order; ``next_cursor`` (always given) resumes after them, or after
    everything read when the page is not full."""

    items: list[EventPublic]
    next_cursor: str

    @classmethod
    def of(cls, page: FeedPage) -> EventPagePublic:
        return cls([EventPublic.of(e) for e in page.items], page.next_cursor)
