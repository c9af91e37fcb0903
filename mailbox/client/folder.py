"""The synced folder: one directory per delivery (the sealed PDF and its proof bundle) and a
state file with the feed cursor and what is already there.

Every file is written to a ``.part`` name, flushed to disk and then renamed, and the state is
saved only after the files it names, so a client killed at any moment leaves either the old
state or the new one, never a half-written document taken for a whole one.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["STATE_FILE", "Folder", "SyncState"]

STATE_FILE = ".mailbox-sync.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def safe_name(name: str, fallback: str) -> str:
    """A file name that stays inside its directory whatever the service sent."""
    cleaned = _UNSAFE.sub("_", Path(name.replace("\\", "/")).name).strip(" .")
    return cleaned[:150] or fallback


def write_atomically(path: Path, content: bytes) -> None:
    """``content`` at ``path``, or nothing there at all."""
    part = path.with_name(path.name + ".part")
    with open(part, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    os.replace(part, path)


@dataclass
class SyncState:
    """The feed cursor and, per delivery, what the folder holds (``document``, ``sha256``,
    ``proof``) or why it holds no document (``status``: paper, purged, unavailable)."""

    cursor: str | None = None
    deliveries: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Folder:
    """The directory a sync writes to."""

    root: Path

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    @property
    def state_path(self) -> Path:
        return self.root / STATE_FILE

    def load(self) -> SyncState:
        try:
            raw = json.loads(self.state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return SyncState()
        except (OSError, ValueError) as exc:
            raise ValueError(f"{self.state_path} is not a readable sync state: {exc}") from None
        return SyncState(raw.get("cursor"), dict(raw.get("deliveries") or {}))

    def save(self, state: SyncState) -> None:
        body = {"cursor": state.cursor, "deliveries": state.deliveries}
        write_atomically(self.state_path, json.dumps(body, indent=1, sort_keys=True).encode())

    def delivery_dir(self, delivery_id: str) -> Path:
        path = self.root / safe_name(delivery_id, "delivery")
        path.mkdir(exist_ok=True)
        return path
