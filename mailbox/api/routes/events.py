"""The event feed: every delivery event the caller may see, in an order that never changes,
from a cursor the client keeps; with ``wait`` it long-polls for the next one."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.params import Parameter

from mailbox.api.problems import problem_responses
from mailbox.api.schemas.events import EventPagePublic
from mailbox.identity.principal import Principal
from mailbox.notifications.feed import MAX_WAIT_SECONDS
from mailbox.notifications.feed_wait import follow_feed
from mailbox.pagination import MAX_LIMIT
from mailbox.services import Services

__all__ = ["routes"]


@get(
    "/api/v1/events",
    tags=["events"],
    summary="Delivery events after a cursor, oldest first (long-poll with wait)",
    responses=problem_responses(
        400,
        401,
        409,
        503,
        details={
            400: "The cursor is not one this service issued (altered, truncated, foreign).",
            409: "The evidence log no longer holds the event the cursor follows (the service "
            "was restored from a backup): read from the start, skipping event ids you have.",
            422: f"limit is not 1..{MAX_LIMIT} or wait is not 0..{MAX_WAIT_SECONDS}.",
            503: "Too many requests wait for events in this process (or our database is "
            "away); ask again after `Retry-After` seconds.",
        },
    ),
)
async def list_events(
    principal: Principal,
    services: Services,
    after: Annotated[
        str | None,
        Parameter(
            description="A cursor from this feed (next_cursor or an event's cursor, also sent "
            "with each webhook); none: from the start. Opaque: one this service did not issue "
            "is a 400.",
        ),
    ] = None,
    limit: Annotated[int, Parameter(ge=1, le=MAX_LIMIT, description="Page size.")] = 100,
    wait: Annotated[
        float,
        Parameter(
            ge=0,
            le=MAX_WAIT_SECONDS,
            description="Seconds to wait for an event when there is none yet; the answer "
            "comes as soon as one commits.",
        ),
    ] = 0,
) -> EventPagePublic:
    """The events of the deliveries you may read (your accounts', or your office's), in the
    evidence log's order, which is commit order: a client that stores ``next_cursor`` and
    resumes from it never misses an event and never sees one twice or out of order."""
    page = await follow_feed(services, principal, after=after, limit=limit, wait=wait)
    return EventPagePublic.of(page)


routes = [list_events]
