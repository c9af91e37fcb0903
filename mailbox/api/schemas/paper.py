"""Request and response schemas of the paper routes (transport only; the rules are in
mailbox.paper.posting and mailbox.paper.retrieval)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from msgspec import Meta, Struct

from mailbox.api.schemas.rules import Rules
from mailbox.deliveries.legal_clock import explain
from mailbox.models import Delivery
from mailbox.paper.retrieval import NEW_ACCOUNT, Redeemed
from mailbox.timefmt import rfc3339_or_none

__all__ = [
    "PaperPosted",
    "PaperReturned",
    "PaperStatusPublic",
    "RetrievalCreate",
    "RetrievalPublic",
]


class PaperPosted(Struct, kw_only=True, forbid_unknown_fields=True):
    """The letter went into the post today."""

    tracking_number: Annotated[str | None, Meta(examples=["RR123456789DE"])] = None

    __rules__: ClassVar[Rules] = Rules(closed=True, fields={"tracking_number": {"max_length": 64}})


class PaperReturned(Struct, kw_only=True, forbid_unknown_fields=True):
    """The posted letter came back undeliverable."""

    reason: Annotated[str, Meta(examples=["addressee unknown"])] = ""

    __rules__: ClassVar[Rules] = Rules(
        closed=True, required=("reason",), fields={"reason": {"min_length": 1, "max_length": 500}}
    )


class PaperStatusPublic(Struct, kw_only=True):
    delivery_id: str
    status: Annotated[str, Meta(examples=["paper_posted"])]
    paper_posted_at: str | None
    paper_returned_at: str | None
    legal_date: Annotated[
        str, Meta(description="The legal clock's sentence for this delivery, as of now.")
    ]

    @classmethod
    def of(cls, delivery: Delivery, *, at) -> PaperStatusPublic:
        return cls(
            delivery_id=delivery.id,
            status=delivery.status,
            paper_posted_at=rfc3339_or_none(delivery.paper_posted_at),
            paper_returned_at=rfc3339_or_none(delivery.paper_returned_at),
            legal_date=explain(delivery, at=at).sentence,
        )


class RetrievalCreate(Struct, kw_only=True, forbid_unknown_fields=True):
    """The retrieval code printed on a paper letter, and the account to link it to."""

    code: Annotated[str, Meta(examples=["7K3M-Q9XA-2BCD-EF45-H"])] = ""
    account_id: Annotated[
        str | None,
        Meta(
            description=f"An account you own; omit it if you own exactly one; "
            f"'{NEW_ACCOUNT}' creates one (named by account_name) at the letter's address.",
        ),
    ] = None
    account_name: str = ""

    __rules__: ClassVar[Rules] = Rules(
        closed=True,
        required=("code",),
        fields={"code": {"max_length": 64}, "account_name": {"max_length": 200}},
    )


class RetrievalPublic(Struct, kw_only=True):
    delivery_id: str
    account_id: str
    document_url: Annotated[
        str, Meta(description="Where the electronic copy is opened (recorded as a handover).")
    ]

    @classmethod
    def of(cls, redeemed: Redeemed) -> RetrievalPublic:
        return cls(
            delivery_id=redeemed.delivery_id,
            account_id=redeemed.account_id,
            document_url=f"/api/v1/deliveries/{redeemed.delivery_id}/paper/copy",
        )
