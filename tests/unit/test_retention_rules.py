"""Which retention applies (the kind's row, else the office-wide row, else the settings, value
by value) and when a delivery's legal state became final: pure rules, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from mailbox.config import Settings
from mailbox.deliveries import rules
from mailbox.deliveries.retention import final_since, resolve
from mailbox.errors import IllegalTransition
from mailbox.models import ANY_KIND, Delivery, RetentionPolicy

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SETTINGS = Settings(retention_document_days=120, retention_evidence_days=3650)


def _delivery(status: str, **times: datetime) -> Delivery:
    return Delivery(
        document_id="doc_1",
        account_id="acc_1",
        office_id="off_1",
        dossier_number="EP1",
        status=status,
        submitted_at=T0,
        **times,
    )


def test_each_value_comes_from_the_most_specific_row_that_sets_it() -> None:
    policies = {
        ("off_1", ANY_KIND): RetentionPolicy(
            office_id="off_1", kind_code=ANY_KIND, evidence_days=7300
        ),
        ("off_1", "R71"): RetentionPolicy(office_id="off_1", kind_code="R71", document_days=30),
    }

    kind = resolve(policies, SETTINGS, office_id="off_1", office_code="EP", kind_code="R71")
    other_kind = resolve(policies, SETTINGS, office_id="off_1", office_code="EP", kind_code="X")
    other_office = resolve(policies, SETTINGS, office_id="off_2", office_code="DE", kind_code="R71")

    assert (kind.document_days, kind.document_source) == (30, "office EP, kind R71")
    assert (kind.evidence_days, kind.evidence_source) == (7300, "office EP")
    assert (other_kind.document_days, other_kind.document_source) == (120, "default")
    assert (other_kind.evidence_days, other_kind.evidence_source) == (7300, "office EP")
    assert (other_office.document_days, other_office.evidence_days) == (120, 3650)


def test_a_delivery_is_final_from_its_pickup_deemed_delivery_or_paper_posting() -> None:
    later = T0 + timedelta(days=12)
    assert final_since(_delivery("picked_up", picked_up_at=later)) == (later, "pickup")
    deemed = _delivery("deemed_delivered", deemed_delivered_at=later)
    assert final_since(deemed) == (later, "deemed delivery")
    assert final_since(_delivery("paper_posted", paper_posted_at=later)) == (later, "paper posting")
    assert final_since(_delivery("available", available_at=T0)) is None
    assert final_since(_delivery("paper_queued", paper_queued_at=T0)) is None


def test_content_still_available_cannot_be_purged() -> None:
    with pytest.raises(IllegalTransition):
        rules.purge_content(_delivery("available", available_at=T0), at=T0, reason="x", details={})
    picked = _delivery("picked_up", picked_up_at=T0)
    rules.purge_content(picked, at=T0, reason="over", details={})
    assert not rules.content_available(picked)
    with pytest.raises(IllegalTransition):
        rules.purge_content(picked, at=T0, reason="again", details={})


def test_settings_refuse_evidence_kept_less_long_than_content() -> None:
    with pytest.raises(ValidationError, match="retention_evidence_days"):
        Settings(retention_document_days=400, retention_evidence_days=300)
