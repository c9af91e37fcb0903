"""Dispatching a folder: one row of a CSV manifest per document.

The manifest's columns are ``file`` (a PDF in the folder), ``recipient`` (the account id),
``kind``, ``dossier_number``, ``title`` and ``reference`` (the office's own reference of that
document). The reference is sent as the dispatch's ``Idempotency-Key``: running the same push
again, after a crash or a network failure, returns the first dispatch of each row instead of
serving the document twice.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mailbox.client.connection import ClientError, Connection, problem_text

__all__ = ["COLUMNS", "PushReport", "push", "read_manifest"]

COLUMNS = ("file", "recipient", "kind", "dossier_number", "title", "reference")


@dataclass(frozen=True)
class Row:
    line: int
    file: str
    recipient: str
    kind: str
    dossier_number: str
    title: str
    reference: str


@dataclass
class PushReport:
    """Per manifest line: the delivery id it became, or the service's problem."""

    accepted: dict[int, str] = field(default_factory=dict)
    refused: dict[int, str] = field(default_factory=dict)


def read_manifest(manifest: Path, folder: Path) -> list[Row]:
    """The manifest's rows; ``ClientError`` naming every bad line before anything is sent."""
    try:
        with open(manifest, newline="", encoding="utf-8-sig") as source:
            reader = csv.DictReader(source)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise ClientError(f"{manifest}: missing column(s) {', '.join(missing)}")
            rows = [
                Row(number, *((record.get(c) or "").strip() for c in COLUMNS))
                for number, record in enumerate(reader, start=2)
            ]
    except OSError as exc:
        raise ClientError(f"Cannot read {manifest}: {exc.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ClientError(f"{manifest} is not a UTF-8 CSV file: {exc}") from None
    problems = []
    references: dict[str, int] = {}
    for row in rows:
        empty = [c for c in COLUMNS if not getattr(row, c)]
        if empty:
            problems.append(f"line {row.line}: empty {', '.join(empty)}")
        elif not (folder / row.file).is_file() or Path(row.file).name != row.file:
            problems.append(f"line {row.line}: no file {row.file!r} in {folder}")
        if row.reference in references:
            problems.append(
                f"line {row.line}: reference {row.reference!r} is already on line "
                f"{references[row.reference]}"
            )
        references.setdefault(row.reference, row.line)
    if problems:
        raise ClientError("The manifest has errors:\n  " + "\n  ".join(problems))
    if not rows:
        raise ClientError(f"{manifest} has no rows")
    return rows


def push(
    connection: Connection,
    folder: Path,
    rows: list[Row],
    *,
    progress: Callable[[PushReport], None] | None = None,
) -> PushReport:
    """Dispatch every row; a refused row is reported and the others go on."""
    report = PushReport()
    for row in rows:
        response = connection.request(
            "POST",
            "/api/v1/dispatches",
            headers={"Idempotency-Key": f"push:{row.reference}"},
            data={
                "recipient_account_id": row.recipient,
                "kind_code": row.kind,
                "dossier_number": row.dossier_number,
                "title": row.title,
            },
            files={"file": (row.file, (folder / row.file).read_bytes(), "application/pdf")},
        )
        if response.status_code in (200, 201):
            report.accepted[row.line] = str(response.json()["id"])
        elif response.status_code >= 500 or response.status_code == 429:
            raise ClientError(
                f"line {row.line}: the service is unavailable ({problem_text(response)}); "
                "run the push again: rows already sent are not sent twice"
            )
        else:
            report.refused[row.line] = problem_text(response)
        if progress is not None:
            progress(report)
    return report
