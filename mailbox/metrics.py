"""Prometheus metrics of the service (``prometheus_client``), served at ``/metrics``.

Two kinds, and what a scrape of one process tells:

- **Counted in this process** (counters, the histogram): dispatches by outcome, seconds spent
  sealing, alerts by outcome. Each process counts its own since it started, as Prometheus
  expects; sum them over the instances (``sum by (outcome) (rate(...))``).
- **Read from the database at scrape time** (:func:`observe_backlog`): outbox depth and the age
  of its oldest pending message by channel, evidence records, age of the newest checkpoint. These
  are the same whichever process is scraped.

The circuit state is this process's own (each process keeps its circuit breakers, see
:mod:`mailbox.circuits`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client import generate_latest as _generate

__all__ = [
    "ALERTS",
    "CONTENT_TYPE",
    "DISPATCHES",
    "REGISTRY",
    "SEAL_SECONDS",
    "Backlog",
    "observe_backlog",
    "observe_circuits",
    "render",
]

# No `*_created` series: a process's start time is not worth a series per counter.
disable_created_metrics()
# The service's own registry: only what is listed here (no process or platform collectors,
# which say nothing the service's operators need and cost a scrape).
REGISTRY = CollectorRegistry(auto_describe=True)
CONTENT_TYPE = CONTENT_TYPE_LATEST

DISPATCHES = Counter(
    "mailbox_dispatches",
    "Dispatches answered by this process, by outcome: delivered (made available), paper "
    "(queued for paper), replayed (an Idempotency-Key's earlier result), rejected (refused "
    "with a SubmissionRejection record), failed (an error of ours).",
    ["outcome"],
    registry=REGISTRY,
)
SEAL_SECONDS = Histogram(
    "mailbox_seal_seconds",
    "Seconds to seal one PDF (PAdES signature and timestamp), in this process's sealing pool.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
    registry=REGISTRY,
)
ALERTS = Counter(
    "mailbox_alerts",
    "Email messages (alerts, reminders, digests, address checks) settled by this process's "
    "outbox drain, by outcome: sent, skipped, retrying, dead.",
    ["outcome"],
    registry=REGISTRY,
)
_OUTBOX_DEPTH = Gauge(
    "mailbox_outbox_depth",
    "Outbox messages waiting to go out (pending), by channel; from the database.",
    ["channel"],
    registry=REGISTRY,
)
_OUTBOX_OLDEST = Gauge(
    "mailbox_outbox_oldest_age_seconds",
    "Seconds since the oldest pending outbox message was written, by channel (0: none "
    "pending); from the database.",
    ["channel"],
    registry=REGISTRY,
)
_CIRCUIT_OPEN = Gauge(
    "mailbox_circuit_open",
    "1 while this process's circuit breaker of the channel is open (our side of it fails), else 0.",
    ["channel"],
    registry=REGISTRY,
)
_EVIDENCE_RECORDS = Gauge(
    "mailbox_evidence_records",
    "Records in the evidence log; from the database.",
    registry=REGISTRY,
)
_CHECKPOINT_AGE = Gauge(
    "mailbox_checkpoint_age_seconds",
    "Seconds since the newest signed checkpoint of the evidence log (-1: none yet); from the "
    "database.",
    registry=REGISTRY,
)


@dataclass(frozen=True)
class Backlog:
    """What the database says at scrape time."""

    outbox_depth: Mapping[str, int]  # pending messages by channel
    outbox_oldest_age: Mapping[str, float]  # seconds, by channel
    evidence_records: int
    checkpoint_age: float | None  # seconds; None: no checkpoint yet


def observe_backlog(backlog: Backlog, channels: list[str]) -> None:
    """Set the database gauges from ``backlog`` (every channel in ``channels`` shown, 0 when
    it has nothing waiting)."""
    for channel in channels:
        _OUTBOX_DEPTH.labels(channel=channel).set(backlog.outbox_depth.get(channel, 0))
        _OUTBOX_OLDEST.labels(channel=channel).set(backlog.outbox_oldest_age.get(channel, 0.0))
    _EVIDENCE_RECORDS.set(backlog.evidence_records)
    _CHECKPOINT_AGE.set(-1 if backlog.checkpoint_age is None else backlog.checkpoint_age)


def observe_circuits(open_by_channel: Mapping[str, bool]) -> None:
    """Set the circuit gauges: 1 for an open circuit, 0 for a closed one."""
    for channel, is_open in open_by_channel.items():
        _CIRCUIT_OPEN.labels(channel=channel).set(1 if is_open else 0)


def render() -> bytes:
    """The metrics in the Prometheus text format."""
    return _generate(REGISTRY)
