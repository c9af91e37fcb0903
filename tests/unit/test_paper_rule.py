"""Who gets paper, as pure rules: the order of the reasons, the one sentence of each, the
postal address of a recipient without an account checked field by field, and the words of
the paper path's evidence."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailbox.deliveries.paper_rule import (
    PaperReason,
    after_alerts_failed,
    paper_status,
    who_gets_paper,
)
from mailbox.deliveries.postal import parse_postal_address
from mailbox.errors import InvalidRequest
from mailbox.evidence.labels import label, summary
from mailbox.models import Account, Office

T0 = datetime(2026, 12, 1, tzinfo=UTC)
OFFICE = Office(id="off", code="EP", name="EPO", paper_only_kinds=["R71"])


def _account(**fields) -> Account:
    base = {"id": "acc", "name": "A", "postal_address": "x"}
    return Account(**{**base, **fields})


def test_a_postal_only_addressee_goes_on_paper_before_any_other_reason() -> None:
    decision = who_gets_paper(_account(postal_only_office_id="off"), OFFICE, "R71")
    assert decision is not None and decision.code is PaperReason.NO_ACCOUNT


def test_a_paper_only_kind_wins_over_an_active_account_and_names_the_kind() -> None:
    active = _account(edelivery_active=True, edelivery_consent_at=T0)
    decision = who_gets_paper(active, OFFICE, "R71")
    assert decision is not None and decision.code is PaperReason.PAPER_ONLY_KIND
    assert "kind R71" in decision.sentence
    assert who_gets_paper(active, OFFICE, "A94") is None


def test_the_evidence_of_a_decision_is_its_code_and_sentence() -> None:
    decision = after_alerts_failed()
    assert decision.evidence() == {"reason_code": "alerts_failed", "reason": decision.sentence}
    assert all(
        who.sentence.startswith("Sent by post: ")
        for who in (
            decision,
            who_gets_paper(_account(), OFFICE, "A94"),
            who_gets_paper(_account(edelivery_consent_at=T0), OFFICE, "A94"),
        )
        if who is not None
    )


def test_paper_status_names_only_the_paper_states() -> None:
    assert paper_status("paper_posted") == "On paper: the letter was posted."
    assert paper_status("available") is None


def test_a_good_postal_address_is_tidied_and_written_as_on_an_envelope() -> None:
    address = parse_postal_address(
        '{"name": " Jean  Dupont ", "lines": ["12 rue de la Paix"], "postal_code": "75002",'
        ' "city": "Paris", "country": "fr"}'
    )
    assert address.name == "Jean Dupont" and address.country == "FR"
    assert address.text() == "Jean Dupont\n12 rue de la Paix\n75002 Paris\nFRANCE"
    no_code = parse_postal_address(
        {"name": "A", "lines": ["1 Main St"], "city": "Dublin", "country": "IE"}
    )
    assert no_code.postal_code == "" and no_code.text().splitlines()[-2] == "Dublin"


@pytest.mark.parametrize(
    ("raw", "fields"),
    [
        ("[]", ["recipient_postal_address"]),
        ({"lines": "Main St", "city": "X", "country": "DE", "name": "A"}, ["lines"]),
        ({"lines": ["a"] * 5, "city": "X", "country": "DE", "name": "A"}, ["lines"]),
        ({"lines": ["a"], "city": "X", "country": "DEU", "name": "A"}, ["country"]),
        ({"lines": ["a"], "city": "X", "country": "DE", "name": "A" * 201}, ["name"]),
        ({"lines": ["a"], "country": "DE", "name": "A"}, ["city"]),
    ],
    ids=["not-an-object", "lines-not-a-list", "five-lines", "alpha-3", "long-name", "no-city"],
)
def test_a_bad_postal_address_names_its_bad_field(raw, fields: list[str]) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_postal_address(raw)
    named = [e.field.removeprefix("recipient_postal_address.") for e in refused.value.errors]
    assert named == fields


def test_paper_path_records_read_in_words() -> None:
    assert label("RelayToNonERDS") == "Handed to the paper process"
    assert summary("RelayToNonERDS", {"reason": "Sent by post: x."}) == "Sent by post: x."
    assert summary("PaperPosted", {"tracking_number": "RR123DE"}) == "Tracking number RR123DE"
    assert summary("PaperReturned", {"reason": "moved away"}) == "Returned: moved away"
    assert label("SomethingNew") == "SomethingNew" and summary("PaperPosted", None) is None
