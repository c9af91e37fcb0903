"""Paper: the letter printed for each delivery served on paper, the daily print batches that
merge them for the printing contractor, and the retrieval codes printed on the letters."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from sqlmodel import Field, SQLModel

from mailbox.clock import now
from mailbox.db import UTCDateTime
from mailbox.ids import new_id


class PaperLetter(SQLModel, table=True):
    """The print-ready letter of one paper delivery: a cover page, then the sealed document.
    Stored encrypted in the blob store (``blob_id`` is the SHA-256 of the PDF)."""

    __tablename__ = "paper_letter"

    id: str = Field(default_factory=partial(new_id, "let"), primary_key=True)
    delivery_id: str = Field(foreign_key="delivery.id", unique=True)
    office_id: str = Field(foreign_key="office.id", index=True)
    blob_id: str = Field(max_length=64, index=True)
    pages: int  # the cover page and the document's pages
    address: str = Field(max_length=1000)  # as printed in the envelope window
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)
    # The print batch that carries it (None until the next batch) and its place there (1-based).
    batch_id: str | None = Field(default=None, foreign_key="print_batch.id", index=True)
    batch_position: int | None = Field(default=None)


class PrintBatch(SQLModel, table=True):
    """The letters of one office not yet printed, merged into one sealed PDF, with a manifest
    (CSV) the printing contractor works from. Both are blobs."""

    __tablename__ = "print_batch"

    id: str = Field(default_factory=partial(new_id, "pbt"), primary_key=True)
    office_id: str = Field(foreign_key="office.id", index=True)
    letters: int
    pages: int
    blob_id: str = Field(max_length=64, index=True)  # the sealed PDF
    manifest_blob_id: str = Field(max_length=64, index=True)  # the CSV
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)


class RetrievalCode(SQLModel, table=True):
    """The code printed on a paper letter, with which its recipient links the delivery to an
    account and opens the electronic copy. Only its SHA-256 is kept; it works once."""

    __tablename__ = "retrieval_code"

    id: str = Field(default_factory=partial(new_id, "rtc"), primary_key=True)
    delivery_id: str = Field(foreign_key="delivery.id", unique=True)
    code_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)
    # Who redeemed it, when, and the account the delivery is now linked to.
    redeemed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    redeemed_by: str | None = Field(default=None, max_length=64)
    account_id: str | None = Field(default=None, foreign_key="account.id", index=True)
    # The first time the electronic copy was opened (a ContentHandover record; later ones are
    # ContentAccess): the paper service's legal date does not move.
    first_opened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
