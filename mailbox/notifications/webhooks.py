"""Webhook subscriptions: an account's owner, or a dispatcher of an office, asks for the
account's (office's) delivery events to be posted to an HTTPS URL of a public host (see
:mod:`notifier.targets`), signed with a shared secret.

The service makes the secret (32 random bytes) and shows it once, when the subscription is
created or its secret rotated; lists never show it. Deleting a subscription deactivates it, so
its attempts stay readable. The outbox drain posts the events and records each attempt.
Who manages which subscriptions is the access policy's answer (mailbox.identity.policy).
Functions take ``session`` keyword-only and never commit.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import and_, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.deliveries.events import WEBHOOK_EVENTS
from mailbox.errors import Conflict, FieldError, InvalidRequest, NotFound, PermissionDenied
from mailbox.identity.accounts import account_for
from mailbox.identity.policy import (
    Action,
    accounts_where,
    can_manage_office,
    can_manage_webhooks,
    can_read_office,
    offices_where,
)
from mailbox.identity.principal import Principal
from mailbox.models import Office, WebhookAttempt, WebhookSubscription
from mailbox.pagination import check_limit, check_page, decode_cursor, encode_cursor
from notifier import host_problem

__all__ = [
    "EVENT_TYPES",
    "AttemptPage",
    "SubscriptionPage",
    "check_url",
    "delete_subscription",
    "get_subscription",
    "list_attempts",
    "list_subscriptions",
    "rotate_secret",
    "subscribe",
]

EVENT_TYPES = tuple(sorted(set(WEBHOOK_EVENTS.values())))
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_URL_LENGTH = 2000
MAX_ACTIVE = 20  # per account or office


@dataclass(frozen=True)
class SubscriptionPage:
    items: list[WebhookSubscription]
    next_cursor: str | None


@dataclass(frozen=True)
class AttemptPage:
    items: list[WebhookAttempt]
    next_cursor: str | None


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def _url_problem(url: str, *, allow_http_loopback: bool, allow_private: bool) -> str | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "is not a URL"
    if len(url) > MAX_URL_LENGTH or re.search(r"\s", url):
        return f"must be at most {MAX_URL_LENGTH} characters without spaces"
    if parts.username is not None or parts.password is not None:
        return "must not carry a user name or password"
    if parts.fragment:
        return "must not have a #fragment"
    if not (parts.scheme == "https" and parts.hostname) and not (
        allow_http_loopback and parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
    ):
        if allow_http_loopback:
            return "must be an https:// URL (or http:// on 127.0.0.1 or localhost)"
        return "must be an https:// URL"
    # Only names and literals here; what a name resolves to is checked on every connection.
    problem = None if allow_private else host_problem(parts.hostname or "")
    if problem is not None:
        return f"{problem}; webhooks are posted to public internet hosts only"
    return None


def check_url(url: str, *, allow_http_loopback: bool, allow_private: bool = False) -> str:
    """The URL, stripped, if events may be posted to it: ``https://`` with a public host (no
    loopback, private, link-local, ... address in any spelling, no local or internal name;
    see :mod:`notifier.targets`), no credentials and no fragment. ``allow_private`` lets it
    name such hosts, ``allow_http_loopback`` use ``http://`` to this machine (tests and local
    demos)."""
    url = url.strip()
    problem = _url_problem(
        url, allow_http_loopback=allow_http_loopback, allow_private=allow_private
    )
    if problem is not None:
        raise InvalidRequest(f"The webhook URL {problem}", errors=[FieldError("url", problem)])
    return url


def _events_problem(events: Sequence[str]) -> str | None:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        return f"unknown {', '.join(unknown)}; choose from {', '.join(EVENT_TYPES)}"
    return None


async def _check_office(session: AsyncSession, principal: Principal, office_id: str) -> None:
    if not can_read_office(principal, office_id) or await session.get(Office, office_id) is None:
        raise NotFound(f"No office {office_id}")
    if not can_manage_office(principal, office_id):
        raise PermissionDenied(f"Only a dispatcher of office {office_id} may manage its webhooks")


async def subscribe(
    *,
    session: AsyncSession,
    principal: Principal,
    url: str,
    events: Sequence[str] = (),
    account_id: str | None = None,
    office_id: str | None = None,
    allow_http_loopback: bool = False,
    allow_private: bool = False,
) -> tuple[WebhookSubscription, str]:
    """Subscribe ``url`` to the events of one account (its owner asks) or one office (its
    dispatcher asks); no events means all of them. Return the subscription and its secret,
    which is shown this once. The URL's rules are :func:`check_url`'s."""
    if (account_id is None) == (office_id is None):
        raise InvalidRequest(
            "A subscription names exactly one of account_id and office_id",
            errors=[FieldError("account_id", "give exactly one of account_id and office_id")],
        )
    if account_id is not None:
        await account_for(session=session, principal=principal, account_id=account_id, manage=True)
        owner = col(WebhookSubscription.account_id) == account_id
    else:
        assert office_id is not None
        await _check_office(session, principal, office_id)
        owner = col(WebhookSubscription.office_id) == office_id
    url = url.strip()
    errors = [
        FieldError(name, problem)
        for name, problem in (
            (
                "url",
                _url_problem(
                    url, allow_http_loopback=allow_http_loopback, allow_private=allow_private
                ),
            ),
            ("events", _events_problem(events)),
        )
        if problem is not None
    ]
    if errors:
        raise InvalidRequest("The webhook subscription is invalid", errors=errors)
    active = await session.exec(
        select(func.count())
        .select_from(WebhookSubscription)
        .where(owner, col(WebhookSubscription.active))
    )
    if active.one() >= MAX_ACTIVE:
        raise Conflict(f"At most {MAX_ACTIVE} active webhook subscriptions are allowed")
    secret = _new_secret()
    subscription = WebhookSubscription(
        account_id=account_id,
        office_id=office_id,
        url=url,
        secret=secret,
        events=sorted(set(events)),
    )
    session.add(subscription)
    await session.flush()
    return subscription, secret


async def _subscription_for(
    session: AsyncSession, principal: Principal, subscription_id: str, *, active: bool
) -> WebhookSubscription:
    """A subscription the principal manages (owner of its account, dispatcher of its office);
    :class:`NotFound` for others, and for deleted ones when ``active``."""
    subscription = await session.get(WebhookSubscription, subscription_id)
    if (
        subscription is None
        or not can_manage_webhooks(
            principal, account_id=subscription.account_id, office_id=subscription.office_id
        )
        or (active and not subscription.active)
    ):
        raise NotFound(f"No webhook subscription {subscription_id}")
    return subscription


async def list_subscriptions(
    *, session: AsyncSession, principal: Principal, limit: int = 50, cursor: str | None = None
) -> SubscriptionPage:
    """The active subscriptions the principal manages, oldest first, keyset-paginated."""
    check_page(limit, cursor)
    owned = accounts_where(principal, Action.MANAGE_ACCOUNT)
    offices = offices_where(principal, Action.MANAGE_OFFICE)
    if not owned and not offices:
        return SubscriptionPage([], None)
    query = select(WebhookSubscription).where(
        col(WebhookSubscription.active),
        or_(
            col(WebhookSubscription.account_id).in_(owned),
            col(WebhookSubscription.office_id).in_(offices),
        ),
    )
    if cursor:
        at, last_id = decode_cursor(cursor)
        query = query.where(
            or_(
                col(WebhookSubscription.created_at) > at,
                and_(
                    col(WebhookSubscription.created_at) == at, col(WebhookSubscription.id) > last_id
                ),
            )
        )
    query = query.order_by(col(WebhookSubscription.created_at), col(WebhookSubscription.id))
    rows = list((await session.exec(query.limit(limit + 1))).all())
    next_cursor = None
    if len(rows) > limit:
        next_cursor = encode_cursor(rows[limit - 1].created_at, rows[limit - 1].id)
    return SubscriptionPage(rows[:limit], next_cursor)


async def get_subscription(
    *, session: AsyncSession, principal: Principal, subscription_id: str
) -> WebhookSubscription:
    """One subscription the principal manages, deleted ones included."""
    return await _subscription_for(session, principal, subscription_id, active=False)


async def delete_subscription(
    *, session: AsyncSession, principal: Principal, subscription_id: str
) -> None:
    """Stop posting events to the subscription; its attempts stay readable."""
    subscription = await _subscription_for(session, principal, subscription_id, active=True)
    subscription.active = False
    session.add(subscription)
    await session.flush()


async def rotate_secret(
    *, session: AsyncSession, principal: Principal, subscription_id: str
) -> tuple[WebhookSubscription, str]:
    """Replace the secret; events from now on are signed with the new one, shown this once."""
    subscription = await _subscription_for(session, principal, subscription_id, active=True)
    secret = _new_secret()
    subscription.secret = secret
    session.add(subscription)
    await session.flush()
    return subscription, secret


async def list_attempts(
    *,
    session: AsyncSession,
    principal: Principal,
    subscription_id: str,
    limit: int = 50,
    cursor: str | None = None,
) -> AttemptPage:
    """The subscription's delivery attempts, newest first, keyset-paginated."""
    check_limit(limit)
    await _subscription_for(session, principal, subscription_id, active=False)
    query = select(WebhookAttempt).where(WebhookAttempt.subscription_id == subscription_id)
    if cursor:
        at, last_id = decode_cursor(cursor)
        query = query.where(
            or_(
                col(WebhookAttempt.attempted_at) < at,
                and_(col(WebhookAttempt.attempted_at) == at, col(WebhookAttempt.id) < last_id),
            )
        )
    query = query.order_by(col(WebhookAttempt.attempted_at).desc(), col(WebhookAttempt.id).desc())
    rows = list((await session.exec(query.limit(limit + 1))).all())
    next_cursor = None
    if len(rows) > limit:
        next_cursor = encode_cursor(rows[limit - 1].attempted_at, rows[limit - 1].id)
    return AttemptPage(rows[:limit], next_cursor)
