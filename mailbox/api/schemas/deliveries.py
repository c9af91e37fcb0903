"""Request and response schemas of the API (transport only; the tables are in mailbox.models).
Times are RFC 3339 UTC with a ``Z``; identifiers are opaque strings; sizes are bytes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, ClassVar

from litestar.datastructures import UploadFile
from litestar.openapi.spec import Schema
from litestar.params import Parameter
from msgspec import UNSET, Meta, Struct, UnsetType, structs

from mailbox.api.bodies import FORM_FIELD_LIMIT
from mailbox.api.schemas.rules import Rules
from mailbox.clock import now
from mailbox.deliveries.dispatch import DOCUMENT_DATE, DOSSIER, KIND_CODE
from mailbox.deliveries.inbox import DeliveryView
from mailbox.deliveries.legal_clock import LegalDate, explain
from mailbox.deliveries.office_list import DispatchItem
from mailbox.deliveries.paper_rule import paper_status
from mailbox.deliveries.postal import MAX_LINES
from mailbox.deliveries.rules import content_available
from mailbox.evidence import labels
from mailbox.models import EvidenceRecord
from mailbox.timefmt import rfc3339, rfc3339_or_none

__all__ = [
    "CursorParam",
    "DeliveryPublic",
    "DispatchForm",
    "DispatchListPublic",
    "DispatchPublic",
    "EvidencePublic",
    "InboxPublic",
    "ProblemDetails",
    "TokenPublic",
]


POSTAL_EXAMPLE = (
    '{"name": "Erika Mustermann", "lines": ["Heidestrasse 17"], "postal_code": "51147", '
    '"city": "Koeln", "country": "DE"}'
)


class FieldProblem(Struct):
    field: str
    message: str


class ProblemDetails(Struct, kw_only=True, omit_defaults=True):
    """RFC 9457 problem details: the one shape of every error. ``errors`` is always present
    (empty when no field is to blame); ``evidence_id`` names the SubmissionRejection record of
    a refused dispatch; ``error`` is the OAuth 2.0 error code on the token endpoint."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem]
    evidence_id: str | None = None
    error: str | None = None


class TokenPublic(Struct):
    access_token: str
    expires_in: int
    token_type: str = "Bearer"
    # A machine client's token: the scopes it carries, space-separated (RFC 6749 section 5.1).
    scope: str | UnsetType = UNSET


class EvidencePublic(Struct, kw_only=True):
    id: str
    seq: int
    type: str
    occurred_at: str
    actor: str
    actor_ip: str | None
    details: dict
    record_hash: str
    prev_hash: str
    # The type in words, and what the record adds in one line (the paper reason, a tracking
    # number, why a letter came back): the words of the page, the receipt and the bundle.
    label: str = ""
    summary: str | None = None

    @classmethod
    def of(cls, record: EvidenceRecord) -> EvidencePublic:
        return cls(
            id=record.id,
            seq=record.seq,
            type=record.type,
            occurred_at=rfc3339(record.occurred_at),
            actor=record.actor,
            actor_ip=record.actor_ip,
            details=record.details,
            record_hash=record.record_hash,
            prev_hash=record.prev_hash,
            label=labels.label(record.type),
            summary=labels.summary(record.type, record.details),
        )


class DocumentPublic(Struct, kw_only=True):
    id: str
    kind_code: str
    dossier_number: str
    title: str
    filename: str
    original_sha256: str
    sealed_sha256: str
    original_size: int
    sealed_size: int
    # The date the document bears, as its office stated it at dispatch (ISO 8601 date).
    document_date: str | None = None
    # What the document is: `application/pdf` (sealed inside), or a data document,
    # `application/json` (stored as canonical JSON) or `application/xml` (stored as sent),
    # sealed with a detached seal (the delivery's `seal_url`).
    media_type: str = "application/pdf"


class LegalDatePublic(Struct, kw_only=True):
    """The legal delivery date as the legal clock decided it, and its one sentence."""

    sentence: str
    delivered_on: str | None
    counts_from: str | None
    settled: bool
    basis: str
    rule_id: str
    rule_version: int
    zone: str

    @classmethod
    def of(cls, legal: LegalDate) -> LegalDatePublic:
        return cls(
            sentence=legal.sentence,
            delivered_on=legal.delivered_on.isoformat() if legal.delivered_on else None,
            counts_from=legal.counts_from.isoformat() if legal.counts_from else None,
            settled=legal.settled,
            basis=legal.basis,
            rule_id=legal.rule.id,
            rule_version=legal.rule.version,
            zone=legal.zone,
        )


class DeliveryPublic(Struct, kw_only=True):
    id: str
    status: str
    account_id: str
    office_id: str
    office_code: str
    office_name: str
    document: DocumentPublic
    submitted_at: str
    available_at: str | None
    deemed_due_at: str | None
    picked_up_at: str | None
    deemed_delivered_at: str | None
    paper_queued_at: str | None
    # Why the delivery went on paper: the sentence every surface shows, and its code
    # (no_account, paper_only_kind, alerts_failed, no_consent, no_verified_address).
    paper_reason: str | None
    unread: bool
    paper_reason_code: str | None = None
    # Where a paper delivery stands (letter being prepared, posted, returned), in words.
    paper_status: str | None = None
    paper_posted_at: str | None = None
    paper_returned_at: str | None = None
    # Where the addressee's people download the sealed document; absent when it cannot be handed
    # over electronically (a paper delivery, a purged one) and in an office's view.
    document_url: str | None = None
    # Where they download a data document's detached seal (`<document>.p7s`); absent for a
    # PDF, whose seal is inside it, and wherever `document_url` is.
    seal_url: str | None = None
    legal_date: LegalDatePublic | None = None
    # The content was removed at the end of its retention period (the document then answers
    # 410); its evidence and hashes remain.
    content_purged_at: str | None = None
    content_purge_reason: str | None = None
    timeline: list[EvidencePublic] | None = None

    @classmethod
    def of(
        cls,
        view: DeliveryView,
        timeline: list[EvidenceRecord] | None = None,
        *,
        for_addressee: bool = True,
    ) -> DeliveryPublic:
        """The delivery as the API shows it; ``for_addressee`` False for a reader who may not
        pick it up (an office's view): no download link then."""
        d, doc, office = view.delivery, view.document, view.office
        downloadable = for_addressee and content_available(d)
        return cls(
            id=d.id,
            status=d.status,
            account_id=d.account_id,
            office_id=office.id,
            office_code=office.code,
            office_name=office.name,
            document=DocumentPublic(
                id=doc.id,
                kind_code=doc.kind_code,
                dossier_number=doc.dossier_number,
                title=doc.title,
                filename=doc.filename,
                original_sha256=doc.original_sha256,
                sealed_sha256=doc.sealed_sha256,
                original_size=doc.original_size,
                sealed_size=doc.sealed_size,
                document_date=d.document_date.isoformat() if d.document_date else None,
                media_type=doc.media_type,
            ),
            submitted_at=rfc3339(d.submitted_at),
            available_at=rfc3339_or_none(d.available_at),
            deemed_due_at=rfc3339_or_none(d.deemed_due_at),
            picked_up_at=rfc3339_or_none(d.picked_up_at),
            deemed_delivered_at=rfc3339_or_none(d.deemed_delivered_at),
            paper_queued_at=rfc3339_or_none(d.paper_queued_at),
            paper_reason=d.paper_reason,
            paper_reason_code=d.paper_reason_code,
            paper_status=paper_status(d.status),
            paper_posted_at=rfc3339_or_none(d.paper_posted_at),
            paper_returned_at=rfc3339_or_none(d.paper_returned_at),
            document_url=f"/api/v1/deliveries/{d.id}/document" if downloadable else None,
            seal_url=(
                f"/api/v1/deliveries/{d.id}/document/seal"
                if downloadable and doc.seal_sha256 is not None
                else None
            ),
            unread=d.picked_up_at is None,
            legal_date=LegalDatePublic.of(explain(d, at=now())),
            content_purged_at=rfc3339_or_none(d.content_purged_at),
            content_purge_reason=d.content_purge_reason,
            timeline=[EvidencePublic.of(r) for r in timeline] if timeline is not None else None,
        )


class InboxPublic(Struct):
    items: list[DeliveryPublic]
    next_cursor: str | None


class DispatchPublic(DeliveryPublic, kw_only=True):
    """A delivery as its office lists it: with the name of the account it was served on."""

    recipient_name: str = ""

    @classmethod
    def of_item(cls, item: DispatchItem) -> DispatchPublic:
        listed = DeliveryPublic.of(item.view, for_addressee=False)
        return cls(**structs.asdict(listed), recipient_name=item.recipient_name)


class DispatchListPublic(Struct):
    items: list[DispatchPublic]
    next_cursor: str | None


@dataclass
class DispatchForm:
    """Multipart form of a dispatch: the document (a PDF, or a JSON or XML data document)
    and its metadata. Every field is required (the
    recipient as exactly one of ``recipient_account_id`` and ``recipient_postal_address``);
    they are declared with defaults so that a dispatch missing several of them is answered
    with one problem naming all of them (and recorded as a SubmissionRejection)."""

    file: UploadFile | None = None
    recipient_account_id: Annotated[str, Meta(max_length=64, examples=["acc_01j..."])] = ""
    recipient_postal_address: Annotated[
        str, Meta(max_length=FORM_FIELD_LIMIT, examples=[POSTAL_EXAMPLE])
    ] = ""
    kind_code: Annotated[str, Meta(max_length=32, examples=["R71"])] = ""
    dossier_number: Annotated[str, Meta(max_length=64, examples=["EP23123456.7"])] = ""
    title: Annotated[str, Meta(max_length=500, examples=["Communication under Rule 71(3)"])] = ""
    office_id: str | None = field(default=None)
    document_date: str | None = field(default=None)

    __rules__: ClassVar[Rules] = Rules(
        required=("file", "kind_code", "dossier_number", "title"),
        one_of=(
            Schema(required=["recipient_account_id"]),
            Schema(required=["recipient_postal_address"]),
        ),
        fields={
            "file": {
                "description": "The document (at most MAILBOX_UPLOAD_LIMIT_BYTES), sent as a "
                "file part (with a file name): a part without one is a text field, and one "
                "that is not UTF-8 text is refused (400). A PDF, or a data document: JSON "
                "(`application/json` or a `.json` name; stored as canonical JSON, and for "
                "kind `national-phase-entry` a valid national-phase entry notice) or XML "
                "(`application/xml` or `.xml`; well-formed, no DOCTYPE), sealed with a "
                "detached seal. Another media type is refused (422)."
            },
            "recipient_account_id": {
                "min_length": 1,
                "max_length": 64,
                "pattern": r"\S",
                "description": "The account the document is served on. Leave it out for a "
                "recipient without an account and give recipient_postal_address instead.",
            },
            "recipient_postal_address": {
                "min_length": 2,
                "pattern": r"^\s*\{",
                "content_media_type": "application/json",
                "description": "For a recipient without an account: the postal address the "
                "document is posted to, as a JSON object: `name` (1-200 characters), `lines` "
                f"(1-{MAX_LINES} street lines of 1-100 characters), `postal_code` (letters, "
                "digits, spaces, '-'; may be empty), `city`, `country` (ISO 3166-1 alpha-2). "
                "The delivery goes on paper (`paper_reason_code` `no_account`); the same "
                "address from the same office reaches the same addressee again. Each bad "
                "field is named in the problem (`recipient_postal_address.city`, ...).",
            },
            "kind_code": {"max_length": 32, "pattern": KIND_CODE.pattern},
            "dossier_number": {"max_length": 64, "pattern": DOSSIER.pattern},
            "title": {"min_length": 1, "max_length": 500, "pattern": r"\S"},
            "office_id": {
                "description": "The office you dispatch as; needed only when you "
                "dispatch for several."
            },
            "document_date": {
                "description": "The date the document bears (ISO 8601, YYYY-MM-DD), at most "
                "one day after today (UTC). Legal-clock rules that count from the date on the "
                "document (epo-2023-v1) read it; without it they count from the day the "
                "document was made available.",
                "pattern": DOCUMENT_DATE.pattern,
                "examples": ["2026-11-26"],
            },
        },
    )


LimitParam = Annotated[int, Parameter(ge=1, le=200, description="Page size (1-200).")]
# What the service issues as a cursor (URL-safe base64, see mailbox.pagination); a cursor of
# that form that the service did not issue is refused all the same (422).
CursorParam = Annotated[
    str,
    Parameter(
        description="next_cursor of the page before (opaque; empty: the first page).",
        max_length=256,
        pattern=r"^[A-Za-z0-9_-]*$",
    ),
]
