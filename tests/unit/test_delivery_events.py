"""One vocabulary per event: a delivery event is named by its evidence type (or is a notice
without evidence, a reminder), and one table gives its webhook event name and its alert email.
The rows it writes are exactly those the outbox drain has always read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.deliveries.events import (
    FEED_EVENTS,
    FOLLOW_UPS,
    WEBHOOK_EVENTS,
    NoticeEvent,
    enqueue,
)
from mailbox.evidence.log import EvidenceType
from mailbox.models import Account, Delivery, EvidenceRecord, OutboxKind
from mailbox.notifications.webhooks import EVENT_TYPES

T0 = datetime(2026, 11, 26, 9, 14, tzinfo=UTC)
E = EvidenceType

# event -> (webhook event name, alert email kind, paper job)
VOCABULARY = {
    E.CONTENT_CONSIGNMENT: ("delivery.available", OutboxKind.EMAIL_NEW_DELIVERY, False),
    E.CONTENT_HANDOVER: ("delivery.picked_up", None, False),
    E.DEEMED_DELIVERY: ("delivery.deemed_delivered", OutboxKind.EMAIL_DEEMED_DELIVERY, False),
    E.RELAY_TO_NON_ERDS: ("delivery.paper_queued", None, True),
    E.PAPER_POSTED: ("delivery.paper_posted", None, False),
    E.PAPER_RETURNED: ("delivery.paper_returned", None, False),
    E.NOTIFICATION_FAILURE: ("delivery.notification_failed", None, False),
    NoticeEvent.REMINDER: (None, OutboxKind.EMAIL_REMINDER, False),
}


def a_delivery() -> Delivery:
    return Delivery(
        id="dlv_1",
        document_id="doc_1",
        account_id="acc_1",
        office_id="off_1",
        dossier_number="EP1",
        submitted_at=T0,
        paper_reason="the account has no active electronic delivery",
    )


def an_account(mode: str = "immediate") -> Account:
    return Account(id="acc_1", name="Applicant", postal_address="1 Road", notify_mode=mode)


def test_each_event_has_one_webhook_name_and_alert_kind() -> None:
    table = {event: (f.webhook_event, f.email, f.paper_job) for event, f in FOLLOW_UPS.items()}
    assert table == VOCABULARY


def test_subscribers_hear_the_same_event_types_as_before_and_paper_returned() -> None:
    assert EVENT_TYPES == (
        "delivery.available",
        "delivery.deemed_delivered",
        "delivery.notification_failed",
        "delivery.paper_posted",
        "delivery.paper_queued",
        "delivery.paper_returned",
        "delivery.picked_up",
    )
    assert set(WEBHOOK_EVENTS.values()) == set(EVENT_TYPES)


def test_the_feed_names_evidence_records_as_webhooks_name_them() -> None:
    assert {e: name for e, name in WEBHOOK_EVENTS.items() if e in set(E)} == FEED_EVENTS
    assert set(FEED_EVENTS.values()) == set(EVENT_TYPES)


def test_a_webhook_event_names_its_evidence_record() -> None:
    session = AsyncSession()
    record = EvidenceRecord(seq=42, id="evd_42", type=E.CONTENT_HANDOVER.value)

    (row,) = enqueue(session, a_delivery(), None, E.CONTENT_HANDOVER, record=record)

    assert row.payload == {
        "event_type": "delivery.picked_up",
        "office_id": "off_1",
        "evidence_id": "evd_42",
        "seq": 42,
    }


def hook(name: str) -> tuple[str, dict[str, str]]:
    return ("webhook.event", {"event_type": f"delivery.{name}", "office_id": "off_1"})


# The rows each event writes, as pending rows already in databases hold them.
STORED_ROWS = {
    E.CONTENT_CONSIGNMENT: [("email.new_delivery", {"event": "available"}), hook("available")],
    E.CONTENT_HANDOVER: [hook("picked_up")],
    E.DEEMED_DELIVERY: [
        ("email.deemed_delivery", {"event": "deemed_delivered"}),
        hook("deemed_delivered"),
    ],
    E.RELAY_TO_NON_ERDS: [
        hook("paper_queued"),
        ("paper.job", {"reason": "the account has no active electronic delivery"}),
    ],
    E.PAPER_POSTED: [hook("paper_posted")],
    E.PAPER_RETURNED: [hook("paper_returned")],
    E.NOTIFICATION_FAILURE: [hook("notification_failed")],
    NoticeEvent.REMINDER: [("email.reminder", {"event": "reminder"})],
}


@pytest.mark.parametrize("event", list(STORED_ROWS))
def test_enqueue_writes_the_rows_the_drain_has_always_read(
    event: EvidenceType | NoticeEvent,
) -> None:
    session = AsyncSession()  # never flushed: enqueue only adds rows for the caller to commit

    rows = enqueue(session, a_delivery(), an_account(), event)

    assert [(row.kind, row.payload) for row in rows] == STORED_ROWS[event]
    assert all(r.delivery_id == "dlv_1" and r.account_id == "acc_1" for r in rows)
    assert len(session.new) == len(rows)


def test_digest_mode_replaces_the_new_document_alert_but_not_the_others() -> None:
    digest = an_account("digest")

    available = enqueue(AsyncSession(), a_delivery(), digest, E.CONTENT_CONSIGNMENT)
    reminder = enqueue(AsyncSession(), a_delivery(), digest, NoticeEvent.REMINDER)

    assert [r.kind for r in available] == ["webhook.event"]
    assert [r.kind for r in reminder] == ["email.reminder"]


def test_without_an_account_no_alert_is_written() -> None:
    rows = enqueue(AsyncSession(), a_delivery(), None, E.CONTENT_CONSIGNMENT)

    assert [r.kind for r in rows] == ["webhook.event"]


@pytest.mark.parametrize(
    "event", [E.SUBMISSION_ACCEPTANCE, E.CONTENT_ACCESS, E.NOTIFICATION_FOR_ACCEPTANCE]
)
def test_events_without_follow_up_write_nothing(event: EvidenceType) -> None:
    session = AsyncSession()

    assert enqueue(session, a_delivery(), an_account(), event) == []
    assert not session.new
