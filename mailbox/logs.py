"""Structured logs: one JSON object a line, with ids, never tokens, passwords or documents."""

from __future__ import annotations

import json
import logging
import sys

__all__ = ["configure_logging"]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
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
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("mailbox")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    # APScheduler logs every run of every job at INFO (the drain runs every few seconds);
    # our jobs log what they did themselves.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
