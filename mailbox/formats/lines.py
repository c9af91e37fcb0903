"""Line lists: what offices upload as a CSV file with a header line, or as JSON lines (one
object per line), whose lines are checked one by one so that one refusal names every bad line
(``line 7: due_on``). Read by the bulk dispatch manifest and a hub's list of expected items;
each says its columns, and checks each line's values itself.

Pure: no database, no web.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from mailbox.errors import FieldError

__all__ = ["Columns", "rows"]

# The longest column name repeated in a refusal.
NAME_SHOWN = 40


@dataclass(frozen=True)
class Columns:
    """The columns of a list: their ``names``; other names of them (``aliases``); what to say
    of a column that is refused for a reason of its own (``refused``, by name, instead of
    "unknown column"); and the field that names a list without a header (``whole``)."""

    names: tuple[str, ...]
    aliases: Mapping[str, str] = field(default_factory=dict)
    refused: Mapping[str, str] = field(default_factory=dict)
    whole: str = "header"


def rows(
    text: str, fmt: str, columns: Columns, errors: list[FieldError]
) -> Iterator[tuple[int, dict[str, str]]]:
    """Each line of ``text`` (``csv`` or ``jsonl``) with its number, as a dictionary of
    ``columns``; a line that cannot be one is added to ``errors`` and skipped (a list whose
    header is wrong gives no line at all). Blank lines are allowed."""
    if fmt == "csv":
        return _csv_rows(text, columns, errors)
    return _json_rows(text, columns, errors)


def _csv_rows(
    text: str, columns: Columns, errors: list[FieldError]
) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        errors.append(FieldError(columns.whole, "no header line"))
        return
    names = [columns.aliases.get(name.strip(), name.strip()) for name in header]
    if not _columns_ok(names, columns, errors, where="header"):
        return
    try:
        for values in reader:
            if not any(value.strip() for value in values):
                continue
            if len(values) != len(names):
                errors.append(
                    FieldError(
                        f"line {reader.line_num}",
                        f"{len(values)} fields, the header names {len(names)}",
                    )
                )
                continue
            yield reader.line_num, dict(zip(names, values, strict=True))
    except csv.Error as exc:
        errors.append(FieldError(f"line {reader.line_num}", f"not CSV: {exc}"))


def _json_rows(
    text: str, columns: Columns, errors: list[FieldError]
) -> Iterator[tuple[int, dict[str, str]]]:
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            errors.append(FieldError(f"line {number}", "not a JSON object"))
            continue
        value = {columns.aliases.get(key, key): item for key, item in value.items()}
        if not _columns_ok(list(value), columns, errors, where=f"line {number}"):
            continue
        bad = [key for key, item in value.items() if not isinstance(item, str)]
        if bad:
            errors.append(FieldError(f"line {number}", f"{', '.join(bad)}: must be strings"))
            continue
        yield number, value


def _columns_ok(
    names: list[str], columns: Columns, errors: list[FieldError], *, where: str
) -> bool:
    missing = [name for name in columns.names if name not in names]
    unknown = [name for name in names if name not in columns.names]
    for name in unknown:
        reason = columns.refused.get(name, "unknown column")
        errors.append(FieldError(f"{where}: {name[:NAME_SHOWN]}", reason))
    if missing:
        errors.append(FieldError(where, f"missing column(s): {', '.join(missing)}"))
    if len(set(names)) != len(names):
        errors.append(FieldError(where, "a column is named twice"))
    return not (missing or unknown) and len(set(names)) == len(names)
