"""Alert emails: who receives them and what they say.

For each claimed ``email.*`` outbox message :func:`compose_emails` builds the
:class:`notifier.EmailMessage` (rendered in the account's language, addressed to its verified
notification addresses), or says why it is no longer needed (``skipped``: the document was
picked up before its reminder went out) or cannot be sent at all (``impossible``: no verified
address). Emails carry metadata and a link, never the document. Every Message-ID derives from
the outbox id, so a message sent again after a crash is recognisable as the same one. How
they leave is the email channel's business (:mod:`mailbox.notifications.email_channel`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.config import TEMPLATES_DIR, Settings
from mailbox.coverage.rule import WORDS, ItemClass
from mailbox.deliveries.legal_clock import explain
from mailbox.models import (
    Account,
    Delivery,
    Document,
    NotificationAddress,
    Office,
    OutboxKind,
    OutboxMessage,
)
from mailbox.notifications.settings import verification_link
from mailbox.timefmt import human, parse_rfc3339
from notifier import EmailMessage, TemplateRenderer

__all__ = [
    "ALERT_KINDS",
    "EMAIL_TEMPLATES",
    "Composition",
    "compose_emails",
    "message_id_for",
    "reminder_context",
]

log = logging.getLogger("mailbox.notifications.alerts")

# The template of each email kind.
EMAIL_TEMPLATES = {
    OutboxKind.EMAIL_NEW_DELIVERY: "new_delivery",
    OutboxKind.EMAIL_DEEMED_DELIVERY: "deemed_delivery",
    OutboxKind.EMAIL_REMINDER: "reminder",
    OutboxKind.EMAIL_DIGEST: "digest",
    OutboxKind.EMAIL_VERIFY_ADDRESS: "verify_address",
    OutboxKind.EMAIL_COVERAGE_REMINDER: "coverage_reminder",
}
# Alerts about deliveries: their permanent failure means electronic delivery is not possible.
# A hub's coverage reminder is about no delivery: its fate never counts against anyone.
ALERT_KINDS = frozenset(EMAIL_TEMPLATES) - {
    OutboxKind.EMAIL_VERIFY_ADDRESS,
    OutboxKind.EMAIL_COVERAGE_REMINDER,
}
# The states in which each alert still tells the account something true and useful.
_STILL_RELEVANT = {
    OutboxKind.EMAIL_NEW_DELIVERY: {"available", "picked_up", "deemed_delivered"},
    OutboxKind.EMAIL_REMINDER: {"available"},
    OutboxKind.EMAIL_DEEMED_DELIVERY: {"deemed_delivered", "picked_up"},
}
_CHUNK = 500


@dataclass(frozen=True)
class Composition:
    """What to do with one email message: send ``email``, or not, and why."""

    email: EmailMessage | None = None
    skipped: str | None = None  # no longer needed: done without sending
    impossible: str | None = None  # can never be sent: a permanent failure


@cache
def renderer() -> TemplateRenderer:
    """The process's template renderer (templates compile once)."""
    return TemplateRenderer(TEMPLATES_DIR)


def message_id_for(outbox_id: str, public_base_url: str) -> str:
    """``<outbox_id@domain>``: the same for every attempt at one outbox message."""
    host = urlsplit(public_base_url).hostname or ""
    try:
        ip_address(host)
        host = ""  # an address literal is no domain
    except ValueError:
        pass
    return f"<{outbox_id}@{host or 'mailbox.local'}>"


def _language(account: Account | None) -> str:
    """The language ``account`` reads its emails in, times included."""
    return account.language if account is not None else "en"


@dataclass
class _Facts:
    """Everything the messages of one drain round refer to, loaded in a few queries."""

    deliveries: dict[str, Delivery]
    documents: dict[str, Document]
    offices: dict[str, Office]
    accounts: dict[str, Account]
    addresses: dict[str, list[str]]  # account id -> verified addresses
    pending_addresses: dict[str, NotificationAddress]


async def compose_emails(
    *, session: AsyncSession, settings: Settings, messages: Sequence[OutboxMessage], at: datetime
) -> dict[str, Composition]:
    """Build the email of each message in ``messages``, keyed by outbox id. A message that
    cannot be composed (a bug, bad data) is logged and left out: it stays pending and is
    retried, then given up, like a failed send, without holding up the others."""
    facts = await _load_facts(session=session, messages=messages)
    compositions: dict[str, Composition] = {}
    for message in messages:
        try:
            compositions[message.id] = _compose(message, facts, settings, at)
        except Exception:
            log.exception("cannot compose email", extra={"outbox_id": message.id})
    return compositions


async def _load_facts(*, session: AsyncSession, messages: Sequence[OutboxMessage]) -> _Facts:
    delivery_ids = {m.delivery_id for m in messages if m.delivery_id}
    for message in messages:
        delivery_ids.update(message.payload.get("delivery_ids", ()))
    deliveries = await _by_id(session, Delivery, delivery_ids)
    documents = await _by_id(session, Document, {d.document_id for d in deliveries.values()})
    offices = await _by_id(session, Office, {d.office_id for d in deliveries.values()})
    account_ids = {m.account_id for m in messages if m.account_id}
    account_ids.update(d.account_id for d in deliveries.values())
    accounts = await _by_id(session, Account, account_ids)
    addresses: dict[str, list[str]] = {}
    for chunk in _chunks(sorted(accounts)):
        rows = await session.exec(
            select(NotificationAddress.account_id, NotificationAddress.email)
            .where(col(NotificationAddress.account_id).in_(chunk))
            .where(col(NotificationAddress.verified_at).is_not(None))
            .order_by(col(NotificationAddress.email))
        )
        for account_id, email in rows:
            addresses.setdefault(account_id, []).append(email)
    address_ids = {
        str(m.payload["address_id"])
        for m in messages
        if m.kind == OutboxKind.EMAIL_VERIFY_ADDRESS and m.payload.get("address_id")
    }
    pending = await _by_id(session, NotificationAddress, address_ids)
    return _Facts(deliveries, documents, offices, accounts, addresses, pending)


async def _by_id(session: AsyncSession, model: Any, ids: Iterable[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for chunk in _chunks(sorted(ids)):
        for row in (await session.exec(select(model).where(col(model.id).in_(chunk)))).all():
            found[row.id] = row
    return found


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _compose(
    message: OutboxMessage, facts: _Facts, settings: Settings, at: datetime
) -> Composition:
    template = EMAIL_TEMPLATES.get(message.kind)
    if template is None:
        return Composition(impossible=f"unknown email kind {message.kind}")
    base = settings.public_base_url.rstrip("/")
    if message.kind == OutboxKind.EMAIL_VERIFY_ADDRESS:
        return _compose_verification(message, facts, settings)
    account = facts.accounts.get(message.account_id or "")
    if message.kind == OutboxKind.EMAIL_COVERAGE_REMINDER:
        context = reminder_context(message.payload)
        if not context["items"]:
            return Composition(skipped="nothing left to list")
    elif message.kind == OutboxKind.EMAIL_DIGEST:
        ids = [i for i in message.payload.get("delivery_ids", ()) if i in facts.deliveries]
        items = [_document_context(facts, facts.deliveries[i], base, at) for i in ids]
        if not items:
            return Composition(skipped="nothing left to list")
        context: dict[str, Any] = {"items": items, "inbox_link": f"{base}/inbox"}
    else:
        delivery = facts.deliveries.get(message.delivery_id or "")
        if delivery is None:
            return Composition(impossible="the delivery no longer exists")
        account = account or facts.accounts.get(delivery.account_id)
        if delivery.status not in _STILL_RELEVANT[message.kind]:
            return Composition(skipped=f"the delivery is {delivery.status}")
        context = _document_context(facts, delivery, base, at)
        if message.kind == OutboxKind.EMAIL_REMINDER:
            assert delivery.available_at is not None
            context["days_waiting"] = (at - delivery.available_at).days
    if account is None:
        return Composition(impossible="the account no longer exists")
    recipients = facts.addresses.get(account.id)
    if not recipients:
        return Composition(impossible="the account has no verified notification address")
    context["account_name"] = account.name
    rendered = renderer().render_email(template, account.language, context)
    headers = (("X-Mailbox-Delivery", message.delivery_id),) if message.delivery_id else ()
    return Composition(
        email=EmailMessage(
            message_id=message_id_for(message.id, settings.public_base_url),
            to=tuple(recipients),
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            headers=headers,
        )
    )


def reminder_context(payload: dict[str, Any]) -> dict[str, Any]:
    """What a coverage reminder says: the hub, the period and each item owed, its class in the
    words of the coverage report."""
    items = [
        {
            "number": item["international_application_number"],
            "kind": item["kind"],
            "due_on": item["due_on"],
            "status": WORDS[ItemClass(item["status"])],
        }
        for item in payload.get("items", ())
    ]
    return {
        "hub_name": payload["hub_name"],
        "hub_code": payload["hub_code"],
        "period_from": payload["from"],
        "period_to": payload["to"],
        "items": items,
    }


def _document_context(facts: _Facts, delivery: Delivery, base: str, at: datetime) -> dict[str, Any]:
    document = facts.documents[delivery.document_id]
    language = _language(facts.accounts.get(delivery.account_id))
    return {
        "office_name": facts.offices[delivery.office_id].name,
        "document_kind": document.kind_code,
        "dossier_number": document.dossier_number,
        "title": document.title,
        "available_at": human(delivery.available_at, language=language),
        "legal_date": explain(delivery, at=at).sentence,
        "link": f"{base}/deliveries/{delivery.id}",
    }


def _compose_verification(message: OutboxMessage, facts: _Facts, settings: Settings) -> Composition:
    payload = message.payload
    token = payload.get("token")
    if not token:
        return Composition(skipped="the verification link was already sent")
    address = facts.pending_addresses.get(str(payload.get("address_id")))
    if address is None or address.verified_at is not None:
        return Composition(skipped="the address is gone or already verified")
    account = facts.accounts.get(message.account_id or address.account_id)
    expires = payload.get("expires_at")
    if isinstance(expires, str):
        expires = parse_rfc3339(expires)
    context = {
        "account_name": account.name if account else "",
        "address": payload.get("email") or address.email,
        "link": verification_link(settings.public_base_url, str(token)),
        "expires_at": (
            human(expires, language=_language(account))
            if isinstance(expires, datetime)
            else str(expires or "")
        ),
    }
    language = account.language if account else "en"
    rendered = renderer().render_email("verify_address", language, context)
    return Composition(
        email=EmailMessage(
            message_id=message_id_for(message.id, settings.public_base_url),
            to=(str(context["address"]),),
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
        )
    )
