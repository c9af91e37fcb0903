"""Schemas of bulk dispatch: a batch with its progress, and its items' results."""

from __future__ import annotations

from msgspec import Struct

from mailbox.models import DispatchBatch, DispatchBatchItem
from mailbox.timefmt import rfc3339, rfc3339_or_none

__all__ = ["BatchItemPublic", "BatchItemsPublic", "BatchListPublic", "BatchPublic"]


class BatchPublic(Struct, kw_only=True):
    """A bulk dispatch and its progress: ``pending`` items wait, ``accepted`` ones were
    delivered (or queued for paper), ``refused`` ones were not (see their items)."""

    id: str
    office_id: str
    status: str  # queued, running, done
    total: int
    accepted: int
    refused: int
    pending: int
    created_by: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    items_url: str

    @classmethod
    def of(cls, batch: DispatchBatch) -> BatchPublic:
        return cls(
            id=batch.id,
            office_id=batch.office_id,
            status=batch.status,
            total=batch.total,
            accepted=batch.accepted,
            refused=batch.refused,
            pending=batch.pending,
            created_by=batch.created_by,
            created_at=rfc3339(batch.created_at),
            started_at=rfc3339_or_none(batch.started_at),
            finished_at=rfc3339_or_none(batch.finished_at),
            items_url=f"/api/v1/dispatch-batches/{batch.id}/items",
        )


class BatchListPublic(Struct):
    items: list[BatchPublic]
    next_cursor: str | None


class BatchItemPublic(Struct, kw_only=True):
    """One manifest line and what became of it: ``accepted`` with its ``delivery_id``
    (``replayed``: its office reference had been dispatched before, and that delivery is the
    answer), ``refused`` with the ``problem`` a single dispatch would have answered, or
    ``pending``."""

    line: int
    office_reference: str
    recipient_account_id: str
    kind_code: str
    dossier_number: str
    title: str
    filename: str
    status: str
    delivery_id: str | None
    replayed: bool
    problem: dict | None

    @classmethod
    def of(cls, item: DispatchBatchItem) -> BatchItemPublic:
        return cls(
            line=item.line,
            office_reference=item.office_reference,
            recipient_account_id=item.recipient_account_id,
            kind_code=item.kind_code,
            dossier_number=item.dossier_number,
            title=item.title,
            filename=item.filename,
            status=item.status,
            delivery_id=item.delivery_id,
            replayed=item.replayed,
            problem=item.problem,
        )


class BatchItemsPublic(Struct):
    items: list[BatchItemPublic]
    next_cursor: str | None
