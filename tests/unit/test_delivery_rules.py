"""The delivery state machine: every arrow of DESIGN.md stamps its legal time and names its
evidence; every other move raises IllegalTransition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailbox.deliveries import rules
from mailbox.deliveries.paper_rule import PaperDecision, PaperReason
from mailbox.errors import IllegalTransition
from mailbox.evidence.log import EvidenceType
from mailbox.models import Account, Delivery, DeliveryStatus, Office

T0 = datetime(2026, 11, 26, 23, 59, 30, tzinfo=UTC)
NO_CONSENT = PaperDecision(PaperReason.NO_CONSENT, "Sent by post: no consent.")


def _delivery(status: DeliveryStatus = DeliveryStatus.SUBMITTED) -> Delivery:
    return Delivery(
        id="dlv_test",
        document_id="doc_test",
        account_id="acc_test",
        office_id="off_test",
        dossier_number="EP1",
        status=status,
        submitted_at=T0,
    )


def _available() -> Delivery:
    d = _delivery()
    rules.consign(d, at=T0, deemed_days=10)
    return d


def test_consign_makes_available_and_schedules_deemed_delivery() -> None:
    d = _delivery()
    draft = rules.consign(d, at=T0, deemed_days=10)
    assert d.status == DeliveryStatus.AVAILABLE
    assert d.available_at == T0
    assert d.deemed_due_at == T0 + timedelta(days=10)
    assert draft.type == EvidenceType.CONTENT_CONSIGNMENT


def test_first_download_is_handover_then_access() -> None:
    d = _available()
    first = rules.hand_over(d, at=T0 + timedelta(hours=1), actor="user:a", ip="192.0.2.1")
    second = rules.hand_over(d, at=T0 + timedelta(hours=2), actor="user:b", ip="192.0.2.2")
    assert first.type == EvidenceType.CONTENT_HANDOVER
    assert second.type == EvidenceType.CONTENT_ACCESS
    assert d.picked_up_at == T0 + timedelta(hours=1)
    assert d.picked_up_by == "user:a"


def test_deemed_delivery_only_once_due_and_later_pickup_still_recorded() -> None:
    d = _available()
    with pytest.raises(IllegalTransition):
        rules.deem_delivered(d, at=T0 + timedelta(days=9, hours=23))
    draft = rules.deem_delivered(d, at=T0 + timedelta(days=11))
    assert draft.type == EvidenceType.DEEMED_DELIVERY
    assert d.deemed_delivered_at == T0 + timedelta(days=10)  # the legal date, not the scan's
    with pytest.raises(IllegalTransition):
        rules.deem_delivered(d, at=T0 + timedelta(days=12))
    late = rules.hand_over(d, at=T0 + timedelta(days=20), actor="user:a", ip=None)
    assert late.type == EvidenceType.CONTENT_HANDOVER
    assert d.status == DeliveryStatus.PICKED_UP


@pytest.mark.parametrize(
    ("status", "move"),
    [
        (DeliveryStatus.SUBMITTED, lambda d: rules.hand_over(d, at=T0, actor="u", ip=None)),
        (DeliveryStatus.PICKED_UP, lambda d: rules.consign(d, at=T0, deemed_days=1)),
        (DeliveryStatus.PAPER_QUEUED, lambda d: rules.hand_over(d, at=T0, actor="u", ip=None)),
        (DeliveryStatus.PICKED_UP, lambda d: rules.relay_to_paper(d, at=T0, decision=NO_CONSENT)),
        (DeliveryStatus.AVAILABLE, lambda d: rules.mark_paper_posted(d, at=T0, actor="o")),
        (DeliveryStatus.REJECTED, lambda d: rules.consign(d, at=T0, deemed_days=1)),
        (
            DeliveryStatus.PAPER_POSTED,
            lambda d: rules.relay_to_paper(d, at=T0, decision=NO_CONSENT),
        ),
    ],
    ids=[
        "pickup-before-consignment",
        "consign-twice",
        "pickup-of-paper",
        "paper-after-pickup",
        "posted-without-queue",
        "consign-rejected",
        "requeue-posted",
    ],
)
def test_illegal_transitions_raise(status: DeliveryStatus, move) -> None:
    d = _delivery(status)
    with pytest.raises(IllegalTransition):
        move(d)
    assert d.status == status


def test_paper_path_posted_then_returned() -> None:
    d = _delivery()
    assert (
        rules.relay_to_paper(d, at=T0, decision=NO_CONSENT).type == EvidenceType.RELAY_TO_NON_ERDS
    )
    assert rules.mark_paper_posted(d, at=T0, actor="o").type == EvidenceType.PAPER_POSTED
    returned = rules.mark_paper_returned(d, at=T0, actor="o", reason="addressee unknown")
    assert returned.type == EvidenceType.PAPER_RETURNED
    assert d.status == DeliveryStatus.PAPER_RETURNED


def _account(**kwargs) -> Account:
    base = {
        "id": "acc",
        "name": "A",
        "postal_address": "x",
        "edelivery_active": True,
        "edelivery_consent_at": T0,
    }
    return Account(**{**base, **kwargs})


@pytest.mark.parametrize(
    ("account", "office", "expected"),
    [
        (_account(), Office(id="o", code="EP", name="EPO"), None),
        (
            _account(edelivery_active=False, edelivery_consent_at=None),
            Office(id="o", code="EP", name="EPO"),
            PaperReason.NO_CONSENT,
        ),
        (
            _account(edelivery_active=False),
            Office(id="o", code="EP", name="EPO"),
            PaperReason.NO_VERIFIED_ADDRESS,
        ),
        (
            _account(edelivery_suspended_reason="hard bounce"),
            Office(id="o", code="EP", name="E"),
            PaperReason.ALERTS_FAILED,
        ),
        (
            _account(),
            Office(id="o", code="EP", name="E", paper_only_kinds=["R71"]),
            PaperReason.PAPER_ONLY_KIND,
        ),
        (
            _account(postal_only_office_id="o", edelivery_active=False, edelivery_consent_at=None),
            Office(id="o", code="EP", name="E"),
            PaperReason.NO_ACCOUNT,
        ),
    ],
    ids=["electronic", "no-consent", "no-verified-address", "suspended", "office-policy", "postal"],
)
def test_paper_is_chosen_only_where_electronic_delivery_is_impossible(
    account: Account, office: Office, expected: PaperReason | None
) -> None:
    decision = rules.who_gets_paper(account, office, "R71")
    if expected is None:
        assert decision is None
    else:
        assert decision is not None and decision.code == expected
