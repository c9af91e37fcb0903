"""The configuration table of the README, made from the settings' own descriptions so the two
cannot drift apart (a test compares them)."""

from __future__ import annotations

from typing import Any

from pydantic_core import PydanticUndefined

from mailbox.config import Settings

__all__ = ["settings_table"]


def _default(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "(required)"
    else:
        value = field.default
    if value in (None, "", {}, []):
        return "(unset)" if value in (None, "") else f"`{value!r}`"
    return f"`{value}`"


def settings_table() -> str:
    """A Markdown table: environment variable, default, meaning."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        description = (field.description or "").replace("|", "\\|")
        lines.append(f"| `MAILBOX_{name.upper()}` | {_default(field)} | {description} |")
    return "\n".join(lines)
