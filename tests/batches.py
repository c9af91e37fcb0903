"""Bulk dispatch uploads for tests: manifests (CSV or JSON lines) and ZIPs of small PDFs."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Mapping

from mailbox.deliveries.manifest import COLUMNS
from tests.factories import small_pdf


def manifest_csv(rows: Iterable[Mapping[str, str]], columns: Iterable[str] = COLUMNS) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue().encode()


def manifest_jsonl(rows: Iterable[Mapping[str, str]]) -> bytes:
    return "".join(json.dumps(dict(row)) + "\n" for row in rows).encode()


def zip_of(files: Mapping[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def rows_for(account_id: str, count: int, *, prefix: str = "REF") -> list[dict[str, str]]:
    """``count`` manifest lines for ``account_id``, each with its own PDF file and reference."""
    return [
        {
            "recipient_account_id": account_id,
            "kind_code": "R71",
            "dossier_number": f"EP{n:08d}.1",
            "title": f"Communication {n}",
            "filename": f"doc-{n}.pdf",
            "office_reference": f"{prefix}-{n}",
        }
        for n in range(1, count + 1)
    ]


def pdfs_for(rows: Iterable[Mapping[str, str]]) -> dict[str, bytes]:
    return {row["filename"]: small_pdf(row["title"]) for row in rows}


def batch_upload(manifest: bytes, archive: bytes, *, name: str = "manifest.csv") -> dict:
    """The ``files`` of an httpx post of a bulk dispatch with a ZIP."""
    return {
        "manifest": (name, manifest, "text/csv"),
        "archive": ("pdfs.zip", archive, "application/zip"),
    }


async def queue_batch(services, office_id: str, rows: list[dict[str, str]], *, actor: str) -> str:
    """Queue a batch of ``rows`` (their PDFs in a ZIP) through the domain, as an upload would;
    return its id."""
    from mailbox.deliveries.batches import create_batch, new_upload

    upload = new_upload(services)
    part = upload.manifest("manifest.csv")
    part.write(manifest_csv(rows))
    part = upload.archive()
    part.write(zip_of(pdfs_for(rows)))
    batch = await create_batch(services, upload, office_id=office_id, actor=actor)
    return batch.id
