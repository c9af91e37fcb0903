"""The circuit breaker of an outbox channel: opened by our own failure, probed with backoff,
closed by the first send that reaches the other side, logged for the operators."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from mailbox.channels import Handled
from mailbox.circuits import LONGEST_PROBE_INTERVAL, Circuits
from mailbox.config import Settings
from mailbox.models import Channel
from notifier import SendOutcome

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SETTINGS = Settings(outbox_backoff_seconds=30.0, outbox_backoff_max_seconds=3600.0)
DOWN = Handled(SendOutcome(False, False, "cannot connect: timeout", ours=True))
SENT = Handled(SendOutcome(True, False, "accepted", 250))
BOUNCED = Handled(SendOutcome(False, True, "recipient refused: 550", 550))
SKIPPED = Handled(SendOutcome(True, False, "skipped: picked up"), counted_as="skipped")
NO_ADDRESS = Handled(SendOutcome(False, True, "the account has no verified address"))


def test_a_closed_circuit_claims_without_limit() -> None:
    circuits = Circuits()

    assert circuits[Channel.EMAIL].claimable(T0) is None
    assert circuits.health() == {
        "email": "ok",
        "webhook": "ok",
        "paper": "ok",
        "transmission": "ok",
    }


def test_our_failure_opens_the_circuit_until_the_probe_time() -> None:
    circuits = Circuits()

    circuits.observe(Channel.EMAIL, [SENT, DOWN], at=T0, settings=SETTINGS)

    email = circuits[Channel.EMAIL]
    assert email.claimable(T0 + timedelta(seconds=29)) == 0
    assert email.claimable(T0 + timedelta(seconds=30)) == 1  # one probe
    assert circuits.health()["email"] == (
        "open since 2026-03-02T09:00:00+00:00: cannot connect: timeout"
    )
    assert circuits[Channel.WEBHOOK].claimable(T0) is None  # the other channels go on


def test_failed_probes_back_off_up_to_the_longest_interval() -> None:
    circuits = Circuits()
    email = circuits[Channel.EMAIL]
    waits = []
    at = T0
    for _ in range(8):
        circuits.observe(Channel.EMAIL, [DOWN], at=at, settings=SETTINGS)
        assert email.probe_at is not None
        waits.append(email.probe_at - at)
        at = email.probe_at

    assert [w.total_seconds() for w in waits[:5]] == [30, 60, 120, 240, 300]
    assert max(waits) == LONGEST_PROBE_INTERVAL
    assert email.opened_at == T0


def test_a_claimed_probe_holds_off_a_second_one() -> None:
    circuits = Circuits()
    circuits.observe(Channel.EMAIL, [DOWN], at=T0, settings=SETTINGS)
    probe_time = T0 + timedelta(seconds=30)

    circuits[Channel.EMAIL].probing(probe_time, SETTINGS)

    assert circuits[Channel.EMAIL].claimable(probe_time) == 0


@pytest.mark.parametrize("answer", [SENT, BOUNCED])
def test_a_send_that_reaches_the_server_closes_the_circuit(answer: Handled) -> None:
    circuits = Circuits()
    circuits.observe(Channel.EMAIL, [DOWN], at=T0, settings=SETTINGS)

    circuits.observe(Channel.EMAIL, [answer], at=T0 + timedelta(minutes=1), settings=SETTINGS)

    assert circuits[Channel.EMAIL].claimable(T0) is None
    assert circuits.health()["email"] == "ok"


@pytest.mark.parametrize("answer", [SKIPPED, NO_ADDRESS])
def test_a_probe_that_never_reached_the_transport_is_tried_again_at_once(
    answer: Handled,
) -> None:
    circuits = Circuits()
    circuits.observe(Channel.EMAIL, [DOWN], at=T0, settings=SETTINGS)
    later = T0 + timedelta(seconds=30)
    circuits[Channel.EMAIL].probing(later, SETTINGS)

    circuits.observe(Channel.EMAIL, [answer], at=later, settings=SETTINGS)

    assert circuits[Channel.EMAIL].claimable(later) == 1


def test_operators_read_one_error_per_outage_and_a_warning_at_its_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mailbox.circuits")
    circuits = Circuits()

    for minutes in range(4):
        at = T0 + timedelta(minutes=minutes)
        circuits.observe(Channel.EMAIL, [DOWN], at=at, settings=SETTINGS)
    circuits.observe(Channel.EMAIL, [SENT], at=T0 + timedelta(hours=1), settings=SETTINGS)

    levels = [record.levelno for record in caplog.records]
    assert levels.count(logging.ERROR) == 1 and levels.count(logging.WARNING) == 1
    assert "cannot connect: timeout" in caplog.records[0].getMessage()
    assert "3600 s" in caplog.records[-1].getMessage()
