"""Webhook subscriptions: account owners and office dispatchers have delivery events posted
to their systems, signed with a secret shown once, and read what each post answered."""

from __future__ import annotations

from litestar import Response, delete, get, post
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.api.problems import problem_responses
from mailbox.api.schemas.accounts import (
    WebhookAttemptPublic,
    WebhookAttemptsPublic,
    WebhookCreate,
    WebhookSecretPublic,
    WebhooksPublic,
    WebhookSubscriptionPublic,
)
from mailbox.api.schemas.deliveries import CursorParam, LimitParam
from mailbox.identity.principal import Principal
from mailbox.notifications import actions
from mailbox.notifications.webhooks import get_subscription, list_attempts, list_subscriptions
from mailbox.services import Services

__all__ = ["routes"]

TAGS = ["webhooks"]
ONE = "/api/v1/webhooks/{subscription_id:str}"
# Responses that carry a secret must not be kept by caches or proxies.
NO_STORE = {"Cache-Control": "no-store"}


@post(
    "/api/v1/webhooks",
    tags=TAGS,
    summary="Subscribe a URL to an account's or an office's delivery events",
    status_code=201,
    responses=problem_responses(
        400,
        401,
        403,
        404,
        415,
        details={
            409: "The account or office has the most active subscriptions allowed.",
            422: "Not exactly one of account_id and office_id, a URL that is not https://, "
            "a URL whose host is not public (a loopback, private, link-local or reserved "
            "address in any spelling, or a local or internal name), or unknown event types; "
            "`errors` names each.",
        },
    ),
)
async def create_webhook(
    data: WebhookCreate, principal: Principal, services: Services
) -> Response[WebhookSecretPublic]:
    """For an account, its owners subscribe; for an office, its dispatchers. `events` is a
    subset of the event types (`delivery.available`, `delivery.picked_up`, ...); empty means
    all. Each post is signed (`Mailbox-Signature: t=<unix>,v1=<HMAC-SHA256 hex>` over
    `"<t>." + body`) with the `secret` of this answer, which is never shown again."""
    account_id, office_id = data.owner()
    subscription, secret = await actions.create_webhook(
        services,
        principal,
        url=data.url,
        events=data.events,
        account_id=account_id,
        office_id=office_id,
    )
    return Response(
        WebhookSecretPublic.with_secret(subscription, secret),
        status_code=201,
        headers={"Location": f"/api/v1/webhooks/{subscription.id}", **NO_STORE},
    )


@get(
    "/api/v1/webhooks",
    tags=TAGS,
    summary="The active subscriptions you manage",
    responses=problem_responses(401, 422),
)
async def webhooks(
    principal: Principal,
    session: AsyncSession,
    limit: LimitParam = 50,
    cursor: CursorParam | None = None,
) -> WebhooksPublic:
    """Subscriptions of the accounts you own and the offices you dispatch for, oldest first,
    keyset-paginated. Secrets are never listed."""
    page = await list_subscriptions(
        session=session, principal=principal, limit=limit, cursor=cursor
    )
    return WebhooksPublic([WebhookSubscriptionPublic.of(s) for s in page.items], page.next_cursor)


@get(ONE, tags=TAGS, summary="One subscription", responses=problem_responses(401, 404))
async def webhook(
    subscription_id: str, principal: Principal, session: AsyncSession
) -> WebhookSubscriptionPublic:
    """Deleted subscriptions are still readable, with `active: false`."""
    subscription = await get_subscription(
        session=session, principal=principal, subscription_id=subscription_id
    )
    return WebhookSubscriptionPublic.of(subscription)


@delete(ONE, tags=TAGS, summary="Stop a subscription", responses=problem_responses(401, 404))
async def delete_webhook(subscription_id: str, principal: Principal, services: Services) -> None:
    """No more events are posted; its attempts stay readable."""
    await actions.delete_webhook(services, principal, subscription_id)


@post(
    f"{ONE}/rotate-secret",
    tags=TAGS,
    summary="Replace a subscription's signing secret",
    status_code=200,
    responses=problem_responses(401, 404),
)
async def rotate_webhook_secret(
    subscription_id: str, principal: Principal, services: Services
) -> Response[WebhookSecretPublic]:
    """Events from now on are signed with the new `secret`, shown only in this answer; the
    old one stops working at once."""
    subscription, secret = await actions.rotate_webhook_secret(services, principal, subscription_id)
    return Response(WebhookSecretPublic.with_secret(subscription, secret), headers=NO_STORE)


@get(
    f"{ONE}/attempts",
    tags=TAGS,
    summary="What each post of a subscription answered, newest first",
    responses=problem_responses(401, 404, 422),
)
async def webhook_attempts(
    subscription_id: str,
    principal: Principal,
    session: AsyncSession,
    limit: LimitParam = 50,
    cursor: CursorParam | None = None,
) -> WebhookAttemptsPublic:
    """One item per post: when, the event type, whether it succeeded, the HTTP status and a
    short detail. Keyset-paginated."""
    page = await list_attempts(
        session=session,
        principal=principal,
        subscription_id=subscription_id,
        limit=limit,
        cursor=cursor,
    )
    return WebhookAttemptsPublic([WebhookAttemptPublic.of(a) for a in page.items], page.next_cursor)


routes = [
    create_webhook,
    webhooks,
    webhook,
    delete_webhook,
    rotate_webhook_secret,
    webhook_attempts,
]
