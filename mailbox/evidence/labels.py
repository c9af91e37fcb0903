"""Evidence in words: the label of each event type and the one line that says what a record
adds to it, as the delivery page's timeline, the proof bundle's receipt and its
``evidence.json`` show them (one place, so that every surface reads the same).

The type names stay the ETSI EN 319 522-2 ones in the records themselves; these words are for
people. The line of a record comes from its own details (the reason a delivery went on paper,
the tracking number of a posted letter, why a letter came back), never from anything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mailbox.evidence.log import EvidenceType

__all__ = ["label", "summary"]

E = EvidenceType

_LABELS: dict[str, str] = {
    E.SUBMISSION_ACCEPTANCE: "Dispatch accepted",
    E.SUBMISSION_REJECTION: "Dispatch refused",
    E.CONTENT_CONSIGNMENT: "Made available in the mailbox",
    E.NOTIFICATION_FOR_ACCEPTANCE: "Alert sent",
    E.NOTIFICATION_FAILURE: "Alert failed",
    E.CONTENT_HANDOVER: "Picked up",
    E.CONTENT_ACCESS: "Opened again",
    E.DEEMED_DELIVERY: "Deemed delivered",
    E.RELAY_TO_NON_ERDS: "Handed to the paper process",
    E.PAPER_POSTED: "Letter posted",
    E.PAPER_RETURNED: "Letter returned undeliverable",
    E.CONTENT_PURGED: "Content removed (retention)",
    E.CONSENT_GIVEN: "Consent to electronic delivery given",
    E.CONSENT_WITHDRAWN: "Consent to electronic delivery withdrawn",
    E.RECEIPT_ACKNOWLEDGEMENT: "Receipt acknowledged by the hub",
}


def label(event_type: str) -> str:
    """The event type in words (an unknown type is shown as it is)."""
    return _LABELS.get(event_type, event_type)


def summary(event_type: str, details: Mapping[str, Any] | None) -> str | None:
    """What the record says beyond its label, in one line; None when nothing."""
    details = details or {}
    if event_type == E.RELAY_TO_NON_ERDS:
        return _text(details.get("reason"))
    if event_type == E.PAPER_POSTED:
        tracking = _text(details.get("tracking_number"))
        return f"Tracking number {tracking}" if tracking else None
    if event_type == E.PAPER_RETURNED:
        reason = _text(details.get("reason"))
        return f"Returned: {reason}" if reason else None
    if event_type == E.RECEIPT_ACKNOWLEDGEMENT:
        hop = details.get("hop")
        return f"Transmission {details.get('transmission_id')}, hop {hop}: every document " + (
            "matched its seal" if details.get("documents_matched") else "checked"
        )
    if event_type in (E.NOTIFICATION_FAILURE, E.CONTENT_PURGED, E.SUBMISSION_REJECTION):
        return _text(details.get("reason"))
    return None


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None
