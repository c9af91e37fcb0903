"""The pure rules behind notifications: retry backoff, Message-IDs, reminder days, digest
times, and what a permanent notification failure does to a delivery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailbox.config import Settings
from mailbox.deliveries.legal_clock import reminders_due
from mailbox.deliveries.rules import consign, hand_over, on_notification_failure
from mailbox.evidence.log import EvidenceType
from mailbox.models import Account, Delivery
from mailbox.notifications.alerts import message_id_for
from mailbox.notifications.digests import digest_cutoff
from mailbox.notifications.outbox import retry_delay

T0 = datetime(2026, 11, 26, 9, 14, tzinfo=UTC)


def available_delivery() -> Delivery:
    delivery = Delivery(
        document_id="doc_1",
        account_id="acc_1",
        office_id="off_1",
        dossier_number="EP1",
        submitted_at=T0,
    )
    consign(delivery, at=T0, deemed_days=10)
    return delivery


@pytest.mark.parametrize(("attempts", "ceiling"), [(1, 30), (2, 60), (3, 120), (8, 3600)])
def test_retry_delay_doubles_up_to_the_longest_delay_with_jitter(
    attempts: int, ceiling: float
) -> None:
    settings = Settings(outbox_backoff_seconds=30, outbox_backoff_max_seconds=3600)
    delays = {retry_delay(attempts, settings).total_seconds() for _ in range(50)}
    assert all(0.8 * ceiling <= d <= ceiling for d in delays)
    assert len(delays) > 1  # jittered: failed batches do not come back in lockstep


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://mailbox.example.org", "<msg_1@mailbox.example.org>"),
        ("https://mailbox.example.org:8443/app", "<msg_1@mailbox.example.org>"),
        ("http://127.0.0.1:8000", "<msg_1@mailbox.local>"),
        ("", "<msg_1@mailbox.local>"),
    ],
)
def test_message_id_derives_from_the_outbox_id(base_url: str, expected: str) -> None:
    assert message_id_for("msg_1", base_url) == expected


def test_reminders_due_counts_the_days_passed() -> None:
    assert reminders_due(T0, [3, 7], T0 + timedelta(days=2, hours=23)) == 0
    assert reminders_due(T0, [3, 7], T0 + timedelta(days=3)) == 1
    assert reminders_due(T0, [3, 7], T0 + timedelta(days=30)) == 2
    assert reminders_due(T0, [], T0 + timedelta(days=30)) == 0


@pytest.mark.parametrize(
    ("at", "cutoff"),
    [
        (datetime(2026, 11, 26, 5, 59, tzinfo=UTC), datetime(2026, 11, 25, 6, tzinfo=UTC)),
        (datetime(2026, 11, 26, 6, 0, tzinfo=UTC), datetime(2026, 11, 26, 6, tzinfo=UTC)),
        (datetime(2026, 11, 26, 23, 0, tzinfo=UTC), datetime(2026, 11, 26, 6, tzinfo=UTC)),
    ],
)
def test_digest_cutoff_is_the_last_digest_time(at: datetime, cutoff: datetime) -> None:
    assert digest_cutoff(at, 6) == cutoff


def test_notification_failure_relays_a_waiting_document_to_paper() -> None:
    delivery, account = available_delivery(), Account(name="A", postal_address="1 Road")

    drafts = on_notification_failure(
        delivery, account, at=T0, reason="recipient refused: 550", details={"outbox_id": "msg_1"}
    )

    assert [d.type for d in drafts] == [
        EvidenceType.NOTIFICATION_FAILURE,
        EvidenceType.RELAY_TO_NON_ERDS,
    ]
    assert drafts[0].details == {"outbox_id": "msg_1", "reason": "recipient refused: 550"}
    assert delivery.status == "paper_queued" and delivery.paper_queued_at == T0
    assert account.edelivery_suspended_reason == (
        "notifications fail permanently: recipient refused: 550"
    )


def test_notification_failure_leaves_a_picked_up_document_where_it_is() -> None:
    delivery, account = available_delivery(), Account(name="A", postal_address="1 Road")
    hand_over(delivery, at=T0 + timedelta(hours=1), actor="user:1", ip=None)

    drafts = on_notification_failure(delivery, account, at=T0, reason="550", details={})

    assert [d.type for d in drafts] == [EvidenceType.NOTIFICATION_FAILURE]
    assert delivery.status == "picked_up"
    assert account.edelivery_suspended_reason is not None
