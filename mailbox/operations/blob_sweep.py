"""The blob sweep: what a failed or killed write leaves in the blob store is removed, counted
and logged, at start-up and then every ``blob_sweep_interval_seconds`` (the scheduler), or on
demand (``python -m mailbox blobs sweep [--dry-run]``).

Two kinds of leftovers:

- **temporary files** (``.<id>.<random>.tmp``) of a write that died between creating and
  renaming its file (a killed process: a failing write removes its own). Removed once older
  than :data:`TEMP_GRACE_SECONDS`, far longer than any write takes.
- **orphan blobs**: a dispatch stores its sealed PDF before the transaction that references
  it (a document's ``sealed_sha256`` is its blob id; paper letters and print batches are
  stored the same way, before their rows); when that transaction fails or the
  process is killed in between, the blob is referenced by nothing. Removed once older than
  ``blob_orphan_grace_seconds`` (default a day, at least an hour) and still referenced by no
  document: a dispatch in flight is never that old, and a dispatch that stores the same bytes
  again makes the file young again (:meth:`LocalBlobStore.put`), which the removal re-checks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

from sqlmodel import col, select

from mailbox import clock
from mailbox.models import Document, PaperLetter, PrintBatch
from mailbox.services import Services
from mailbox.storage.blobs import StoredFile

__all__ = ["TEMP_GRACE_SECONDS", "SweepReport", "sweep_blobs"]

log = logging.getLogger("mailbox.operations.blob_sweep")

TEMP_GRACE_SECONDS = 3600.0
# Files looked at per round: one database query per round for the old blobs among them.
_BATCH = 500


@dataclass
class SweepReport:
    """What one sweep found and removed (or, on a dry run, would remove)."""

    dry_run: bool
    scanned: int = 0
    temp_removed: int = 0
    temp_bytes: int = 0
    orphans_removed: int = 0
    orphan_bytes: int = 0
    referenced: int = 0
    within_grace: int = 0

    def as_dict(self) -> dict[str, int | bool]:
        return asdict(self)


async def sweep_blobs(
    services: Services,
    *,
    dry_run: bool = False,
    progress: Callable[[int], object] | None = None,
) -> SweepReport:
    """Remove stale temporary files and orphan blobs from the blob store (nothing on a dry
    run) and return the counts; logs them at INFO, or at WARNING when something was removed
    (a failure left it). ``progress`` is called with the number of files looked at."""
    now = clock.now().timestamp()
    temp_cutoff = now - TEMP_GRACE_SECONDS
    orphan_cutoff = now - services.settings.blob_orphan_grace_seconds
    report = SweepReport(dry_run=dry_run)
    files = services.blobs.entries()
    while batch := await asyncio.to_thread(_take, files, _BATCH):
        report.scanned += len(batch)
        stale: list[StoredFile] = []
        old_blobs: list[StoredFile] = []
        for entry in batch:
            if entry.is_temporary:
                if entry.modified < temp_cutoff:
                    stale.append(entry)
            elif entry.modified < orphan_cutoff:
                old_blobs.append(entry)
            else:
                report.within_grace += 1
        referenced = await _referenced(services, [e.blob_id for e in old_blobs if e.blob_id])
        orphans = [e for e in old_blobs if e.blob_id not in referenced]
        report.referenced += len(old_blobs) - len(orphans)
        removed_temp = await _remove(services, stale, temp_cutoff, dry_run)
        removed_orphans = await _remove(services, orphans, orphan_cutoff, dry_run)
        report.temp_removed += len(removed_temp)
        report.temp_bytes += sum(e.size for e in removed_temp)
        report.orphans_removed += len(removed_orphans)
        report.orphan_bytes += sum(e.size for e in removed_orphans)
        if progress is not None:
            progress(len(batch))
    level = logging.WARNING if report.temp_removed or report.orphans_removed else logging.INFO
    log.log(
        level,
        "blob sweep%s: %d files, %d temporary files and %d orphan blobs %s",
        " (dry run)" if dry_run else "",
        report.scanned,
        report.temp_removed,
        report.orphans_removed,
        "to remove" if dry_run else "removed",
        extra=report.as_dict(),
    )
    return report


def _take(files: Iterator[StoredFile], n: int) -> list[StoredFile]:
    batch = []
    for entry in files:
        batch.append(entry)
        if len(batch) == n:
            break
    return batch


async def _referenced(services: Services, blob_ids: list[str]) -> set[str]:
    """Those of ``blob_ids`` that a document, a paper letter or a print batch (its PDF or its
    manifest) references."""
    if not blob_ids:
        return set()
    columns = (
        Document.sealed_sha256,
        PaperLetter.blob_id,
        PrintBatch.blob_id,
        PrintBatch.manifest_blob_id,
    )
    found: set[str] = set()
    async with services.db.session() as session:
        for column in columns:
            rows = await session.exec(select(column).where(col(column).in_(blob_ids)))
            found.update(rows.all())
    return found


async def _remove(
    services: Services, entries: list[StoredFile], cutoff: float, dry_run: bool
) -> list[StoredFile]:
    """Remove ``entries`` that were not modified after ``cutoff`` meanwhile; return those
    removed (on a dry run: all of them, nothing is touched)."""
    if dry_run or not entries:
        return entries

    def remove_all() -> list[StoredFile]:
        return [e for e in entries if services.blobs.remove(e, unless_modified_after=cutoff)]

    return await asyncio.to_thread(remove_all)
