"""Dispatching a folder: one row of a CSV manifest per document, sent through the bulk API
(``POST /api/v1/dispatch-batches``, followed until done) or, on a service without it, one
dispatch at a time.

The manifest's columns are ``file`` (a PDF in the folder), ``recipient`` (the account id),
``kind``, ``dossier_number``, ``title`` and ``reference`` (the office's own reference of that
document). The reference is the dispatch's ``Idempotency-Key`` either way (the bulk API's
``office_reference``): running the same push again, after a crash or a network failure,
returns the first dispatch of each row instead of serving the document twice.
"""

from __future__ import annotations

import contextlib
import csv
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mailbox.client.connection import ClientError, Connection, problem_text

__all__ = ["COLUMNS", "PushReport", "push", "read_manifest"]

COLUMNS = ("file", "recipient", "kind", "dossier_number", "title", "reference")
# Rows per bulk dispatch, and how often its progress is asked for.
BATCH_ROWS = 500
POLL_SECONDS = 0.5
PDF = "application/pdf"


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
    """Dispatch every row, through the bulk API (batches of ``BATCH_ROWS`` rows, followed until
    done), or one by one where the service has no bulk API; a refused row is reported and the
    others go on."""
    report = PushReport()
    for start in range(0, len(rows), BATCH_ROWS):
        chunk = rows[start : start + BATCH_ROWS]
        if not _push_batch(connection, folder, chunk, report, progress):
            for row in chunk:
                _push_one(connection, folder, row, report)
                if progress is not None:
                    progress(report)
    return report


def _push_batch(
    connection: Connection,
    folder: Path,
    rows: list[Row],
    report: PushReport,
    progress: Callable[[PushReport], None] | None,
) -> bool:
    """One bulk dispatch of ``rows``, followed until done; False when the service has no bulk
    API (the caller then sends the rows one by one)."""
    manifest = io.StringIO()
    writer = csv.writer(manifest)
    writer.writerow(COLUMNS)
    writer.writerows([getattr(row, c) for c in COLUMNS] for row in rows)
    with contextlib.ExitStack() as files:
        parts = [("manifest", ("manifest.csv", manifest.getvalue().encode(), "text/csv"))]
        parts += [
            ("files", (row.file, files.enter_context(open(folder / row.file, "rb")), PDF))
            for row in rows
        ]
        response = connection.request("POST", "/api/v1/dispatch-batches", files=parts)
    if response.status_code in (404, 405):
        return False
    if response.status_code != 202:
        raise ClientError(f"The batch was refused: {problem_text(response)}")
    batch_url = (
        response.headers.get("Location") or f"/api/v1/dispatch-batches/{response.json()['id']}"
    )
    by_line = {n: row for n, row in enumerate(rows, start=2)}
    while True:
        state = connection.request("GET", batch_url)
        if state.status_code != 200:
            raise ClientError(f"Following the batch answered {problem_text(state)}")
        if state.json()["status"] == "done":
            break
        time.sleep(POLL_SECONDS)
    cursor: str | None = None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = connection.request("GET", f"{batch_url}/items", params=params)
        if page.status_code != 200:
            raise ClientError(f"Reading the batch's items answered {problem_text(page)}")
        body = page.json()
        for item in body["items"]:
            row = by_line[item["line"]]
            if item["status"] == "accepted":
                report.accepted[row.line] = str(item["delivery_id"])
            else:
                problem = item.get("problem") or {}
                report.refused[row.line] = " - ".join(
                    str(problem[k]) for k in ("title", "detail") if problem.get(k)
                ) or str(item["status"])
        if progress is not None:
            progress(report)
        cursor = body.get("next_cursor")
        if not cursor:
            return True


def _push_one(connection: Connection, folder: Path, row: Row, report: PushReport) -> None:
    response = connection.request(
        "POST",
        "/api/v1/dispatches",
        headers={"Idempotency-Key": row.reference},
        data={
            "recipient_account_id": row.recipient,
            "kind_code": row.kind,
            "dossier_number": row.dossier_number,
            "title": row.title,
        },
        files={"file": (row.file, (folder / row.file).read_bytes(), PDF)},
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
