"""Log lines are one JSON object each and bounded: a hostile PDF's deep recursion once put a
166 kB traceback into the log; the PDF libraries' own warnings go the same way."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from mailbox.logs import (
    ERROR_MAX,
    MESSAGE_MAX,
    PARSER_LOGGERS,
    JsonFormatter,
    configure_parser_logging,
)


def _ping(n: int) -> int:
    return _pong(n + 1) + 1


def _pong(n: int) -> int:
    # Two functions in turn: Python does not fold their frames ("previous line repeated"),
    # so the traceback is as long as a parser's mutual recursion on nested arrays.
    return _ping(n + 1) + 1


def _record_with_deep_traceback() -> logging.LogRecord:
    try:
        _ping(0)
    except RecursionError:
        exc_info = sys.exc_info()
    return logging.LogRecord(
        "mailbox.api", logging.ERROR, __file__, 1, "x" * 50_000, None, exc_info
    )


def test_a_deep_traceback_becomes_one_bounded_line_that_still_names_the_error() -> None:
    line = JsonFormatter().format(_record_with_deep_traceback())

    assert "\n" not in line
    assert len(line) < MESSAGE_MAX + ERROR_MAX + 500
    entry = json.loads(line)
    assert entry["error"].rstrip().endswith("RecursionError: maximum recursion depth exceeded")
    assert "characters cut" in entry["error"] and "characters cut" in entry["message"]


def test_a_short_line_is_left_alone() -> None:
    record = logging.LogRecord("mailbox", logging.INFO, __file__, 1, "sealed %s", ("d1",), None)

    assert json.loads(JsonFormatter().format(record))["message"] == "sealed d1"


@pytest.fixture
def parser_loggers() -> Iterator[None]:
    saved = {
        name: (list(logging.getLogger(name).handlers), logging.getLogger(name).propagate)
        for name in PARSER_LOGGERS
    }
    yield
    for name, (handlers, propagate) in saved.items():
        logging.getLogger(name).handlers[:] = handlers
        logging.getLogger(name).propagate = propagate


def test_pdf_library_warnings_are_bounded_json_lines(
    parser_loggers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_parser_logging()
    record = _record_with_deep_traceback()

    logging.getLogger("pyhanko.sign.validation.pdf_embedded").warning(
        "Encountered signature with unsupported SubFilter", exc_info=record.exc_info
    )

    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["logger"] == "pyhanko.sign.validation.pdf_embedded"
    assert len(lines[0]) < MESSAGE_MAX + ERROR_MAX + 500
