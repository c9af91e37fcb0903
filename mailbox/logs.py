"""Structured logs: one JSON object a line, with ids, never tokens, passwords or documents.

A line is bounded: a message longer than ``MESSAGE_MAX`` and a traceback longer than
``ERROR_MAX`` are cut (a hostile PDF once produced a 166 kB traceback). The PDF libraries'
own loggers (pyHanko warns about what it makes of a broken file, with its traceback) go
through the same formatter, in the service and in each sealing worker process.
"""

from __future__ import annotations

import json
import logging
import sys

__all__ = [
    "ERROR_MAX",
    "MESSAGE_MAX",
    "JsonFormatter",
    "configure_logging",
    "configure_parser_logging",
]

MESSAGE_MAX = 1000
ERROR_MAX = 4000
# The libraries that parse uploaded PDFs, and log what they make of hostile ones.
PARSER_LOGGERS = ("pyhanko", "pyhanko_certvalidator")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": _cut(record.getMessage(), MESSAGE_MAX),
        }
        for key in (
            "delivery_id",
            "office_id",
            "account_id",
            "outbox_id",
            "job",
            "worker_id",
            "user_id",
        ):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["error"] = _cut(self.formatException(record.exc_info), ERROR_MAX)
        return json.dumps(entry)


def _cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters: its start and its end (where a traceback names
    the exception), with how much was left out between them."""
    if len(text) <= limit:
        return text
    marker = f" [... {len(text) - limit} characters cut ...] "
    head = (limit - len(marker)) // 3
    tail = limit - len(marker) - head
    return text[:head] + marker + text[-tail:]


def _handler() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    return handler


def configure_parser_logging() -> None:
    """Send the PDF libraries' warnings through the bounded JSON formatter, not Python's
    last-resort handler (which prints whole tracebacks). Sealing workers call it at start."""
    handler = _handler()
    for name in PARSER_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.WARNING)
        logger.propagate = False


def configure_logging(level: str = "INFO") -> None:
    handler = _handler()
    configure_parser_logging()
    root = logging.getLogger("mailbox")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    # APScheduler logs every run of every job at INFO (the drain runs every few seconds);
    # our jobs log what they did themselves.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
