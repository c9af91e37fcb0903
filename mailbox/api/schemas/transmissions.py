"""Schemas of office-to-office transmissions and the hubs' forwarding rules: transport only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import msgspec
from litestar.datastructures import UploadFile
from msgspec import Meta, Struct

from mailbox.models import ForwardingRule
from mailbox.timefmt import rfc3339
from mailbox.transmissions.rules import HubRules
from mailbox.transmissions.status import TransmissionView, status_json

__all__ = [
    "ForwardingRuleChange",
    "ForwardingRulesPublic",
    "TransmissionForm",
    "TransmissionListPublic",
    "TransmissionPublic",
]


@dataclass
class TransmissionForm:
    """Multipart form of a transmission: the manifest (a JSON file part), one ``documents``
    file part per document (its file name the manifest's ``file``), and the hub to route it
    through (``via``, an office code), if any."""

    manifest: UploadFile | None = None
    documents: list[UploadFile] = field(default_factory=list)
    via: Annotated[str, Meta(max_length=16, examples=["IB"])] | None = None
    office_id: str | None = None


class HopPublic(Struct, kw_only=True):
    """One hop: a delivery of the package from one office into the next office's mailbox."""

    number: int
    from_: str = msgspec.field(name="from")
    to: str
    delivery_id: str
    status: Literal["delivered", "held", "forwarded", "picked_up"]
    delivered_at: str
    acknowledged_at: str | None
    acknowledgement_id: str | None
    forwarded_at: str | None
    forwarded_by: str | None
    picked_up_at: str | None


class TransmissionDocumentPublic(Struct, kw_only=True):
    position: int
    file: str
    role: str
    media_type: str
    original_sha256: str
    sealed_sha256: str
    seal_sha256: str | None


class PackagePublic(Struct, kw_only=True):
    """The package document every hop delivers (fetch it as a hop delivery's document)."""

    document_id: str
    sha256: str
    seal_sha256: str | None
    size: int


class TransmissionPublic(Struct, kw_only=True):
    """A transmission end to end: its route and every hop so far."""

    id: str
    international_application_number: str
    kind: str
    sender_reference: str | None
    sender: str
    via: str | None
    final_recipient: str
    route: list[str]
    status: Literal["in_transit", "held", "delivered", "picked_up"]
    created_at: str
    completed_at: str | None
    package: PackagePublic
    documents: list[TransmissionDocumentPublic]
    hops: list[HopPublic]

    @classmethod
    def of(cls, view: TransmissionView) -> TransmissionPublic:
        body = status_json(view)
        return cls(
            **{k: v for k, v in body.items() if k not in ("package", "documents", "hops")},
            package=PackagePublic(**body["package"]),
            documents=[TransmissionDocumentPublic(**d) for d in body["documents"]],
            hops=[HopPublic(**_hop_fields(h)) for h in body["hops"]],
        )


def _hop_fields(hop: dict[str, Any]) -> dict[str, Any]:
    return {("from_" if k == "from" else k): v for k, v in hop.items()}


class TransmissionListPublic(Struct):
    items: list[TransmissionPublic]
    next_cursor: str | None


class ForwardingRuleChange(Struct, kw_only=True):
    """How the hub handles transmissions of one kind: forward at once, or hold for a check."""

    mode: Literal["automatic", "check"]


class ForwardingRulePublic(Struct, kw_only=True):
    kind: str
    mode: str
    changed_at: str

    @classmethod
    def of(cls, rule: ForwardingRule) -> ForwardingRulePublic:
        return cls(kind=rule.kind, mode=rule.mode, changed_at=rfc3339(rule.changed_at))


class ForwardingRulesPublic(Struct, kw_only=True):
    """A hub's rules per transmission kind; a kind without one is forwarded automatically."""

    office_code: str
    default_mode: str = "automatic"
    rules: list[ForwardingRulePublic]

    @classmethod
    def of(cls, found: HubRules) -> ForwardingRulesPublic:
        return cls(
            office_code=found.office.code,
            rules=[ForwardingRulePublic.of(rule) for rule in found.rules],
        )
