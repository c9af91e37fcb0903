"""Who gets paper: the one rule that decides when electronic delivery is not possible, and the
one sentence that says why on every surface (the API's ``paper_reason``, the delivery page, the
proof bundle's receipt and evidence).

DESIGN.md: electronic delivery is not possible when the addressee has no account (the office
gave a postal address), when the office serves the document's kind on paper only, when the
account's alerts fail permanently (a failure of the recipient's own address, never one of ours:
our mail server being down never reaches this rule, see :mod:`mailbox.notifications.outbox`),
or when the account has not consented or has no verified address. Nothing else triggers paper.

Pure: functions over an account, an office and a document kind code. The decision goes into
the RelayToNonERDS evidence as a code (``reason_code``, for machines) and a sentence
(``reason``, for people); the sentence is stored on the delivery as it was decided, so a later
change of these words never rewrites what a delivery already said.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mailbox.models import Account, DeliveryStatus, Office

__all__ = [
    "PaperDecision",
    "PaperReason",
    "after_alerts_failed",
    "paper_status",
    "who_gets_paper",
]


class PaperReason(StrEnum):
    """Why a delivery went to paper (the ``reason_code`` of its RelayToNonERDS record)."""

    NO_ACCOUNT = "no_account"
    PAPER_ONLY_KIND = "paper_only_kind"
    ALERTS_FAILED = "alerts_failed"
    NO_CONSENT = "no_consent"
    NO_VERIFIED_ADDRESS = "no_verified_address"


# The words of each reason; ``{kind}`` is the document kind code.
_SENTENCES: dict[PaperReason, str] = {
    PaperReason.NO_ACCOUNT: (
        "Sent by post: the recipient has no account with this service, so the document goes "
        "to the postal address the office gave."
    ),
    PaperReason.PAPER_ONLY_KIND: (
        "Sent by post: the office serves documents of kind {kind} on paper only."
    ),
    PaperReason.ALERTS_FAILED: (
        "Sent by post: the alert about this document could not be delivered to the "
        "recipient's email addresses, and trying again cannot help, so electronic delivery is "
        "not possible."
    ),
    PaperReason.NO_CONSENT: (
        "Sent by post: the recipient has not consented to electronic delivery."
    ),
    PaperReason.NO_VERIFIED_ADDRESS: (
        "Sent by post: the recipient has no verified email address to be alerted at, so "
        "electronic delivery is not possible."
    ),
}


@dataclass(frozen=True)
class PaperDecision:
    """Electronic delivery is not possible: the reason as a code and as its sentence."""

    code: PaperReason
    sentence: str

    def evidence(self) -> dict[str, Any]:
        """The details of the RelayToNonERDS record."""
        return {"reason_code": self.code.value, "reason": self.sentence}


def _decision(code: PaperReason, *, kind: str = "") -> PaperDecision:
    return PaperDecision(code, _SENTENCES[code].format(kind=kind))


def who_gets_paper(account: Account, office: Office, kind_code: str) -> PaperDecision | None:
    """``None`` when a document of ``kind_code`` from ``office`` may be delivered
    electronically to ``account``, else why it goes on paper (the first reason that holds,
    in the order of :class:`PaperReason`)."""
    if account.postal_only_office_id is not None:
        return _decision(PaperReason.NO_ACCOUNT)
    if kind_code in (office.paper_only_kinds or []):
        return _decision(PaperReason.PAPER_ONLY_KIND, kind=kind_code)
    if account.edelivery_suspended_reason:
        return _decision(PaperReason.ALERTS_FAILED)
    if account.edelivery_consent_at is None:
        return _decision(PaperReason.NO_CONSENT)
    if not account.edelivery_active:
        return _decision(PaperReason.NO_VERIFIED_ADDRESS)
    return None


def after_alerts_failed() -> PaperDecision:
    """The decision for a document waiting for pickup whose alert failed for good."""
    return _decision(PaperReason.ALERTS_FAILED)


# Where a paper delivery stands, in the words of every surface.
_PAPER_STATUSES: dict[str, str] = {
    DeliveryStatus.PAPER_QUEUED: "On paper: the letter is being prepared for posting.",
    DeliveryStatus.PAPER_POSTED: "On paper: the letter was posted.",
    DeliveryStatus.PAPER_RETURNED: "On paper: the letter came back undeliverable.",
}


def paper_status(status: str) -> str | None:
    """Where a delivery in ``status`` stands on paper, in words; None when not on paper."""
    return _PAPER_STATUSES.get(status)
