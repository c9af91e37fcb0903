"""Email templates: a subject, a text part and an HTML part per template and language.

Templates live under ``templates/email/<lang>/`` as ``<name>.subject.txt``, ``<name>.txt`` and
``<name>.html``. HTML is autoescaped, text is not. A context key a template uses but the caller
did not give is an error, never a silent blank: a notice with a missing date is worse than none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

__all__ = ["DEFAULT_LANGUAGE", "RenderedEmail", "TemplateRenderer"]

DEFAULT_LANGUAGE = "en"
_PARTS = (".subject.txt", ".txt", ".html")


@dataclass(frozen=True)
class RenderedEmail:
    """A rendered email: a one-line subject, a plain-text body and an HTML body."""

    subject: str
    text: str
    html: str


class TemplateRenderer:
    """Renders email templates from one ``templates/`` directory.

    The Jinja2 environment is built once; templates compile on first use and are kept.
    """

    def __init__(self, templates_dir: Path) -> None:
        self._root = Path(templates_dir) / "email"
        if not self._root.is_dir():
            raise FileNotFoundError(f"no email templates under {templates_dir}")
        self._languages = tuple(
            sorted(entry.name for entry in self._root.iterdir() if entry.is_dir())
        )
        if DEFAULT_LANGUAGE not in self._languages:
            raise FileNotFoundError(f"email templates lack the {DEFAULT_LANGUAGE!r} language")
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self._root),
            undefined=jinja2.StrictUndefined,
            autoescape=lambda name: name is not None and name.endswith(".html"),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,
        )
        # (name, known language) -> language used; templates do not change while we run.
        self._chosen: dict[tuple[str, str], str] = {}

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages that have email templates, sorted."""
        return self._languages

    def render_email(self, name: str, language: str, context: Mapping[str, Any]) -> RenderedEmail:
        """Render template ``name`` in ``language`` (``"fr"``, ``"fr-CH"``...) with ``context``.

        A language without that template falls back to English. Raises ``LookupError`` for an
        unknown template name and ``jinja2.UndefinedError`` for a missing context key.
        """
        chosen = self._language_for(name, language)
        subject, text, html = (
            self._env.get_template(f"{chosen}/{name}{part}").render(context) for part in _PARTS
        )
        # One line, whatever the template or a title put in it: a subject is a mail header.
        return RenderedEmail(subject=" ".join(subject.split()), text=text, html=html)

    def _language_for(self, name: str, language: str) -> str:
        """The language to render ``name`` in: the primary subtag asked for, else English."""
        primary = language.replace("_", "-").split("-", 1)[0].lower()
        key = (name, primary if primary in self._languages else DEFAULT_LANGUAGE)
        chosen = self._chosen.get(key)
        if chosen is None:
            chosen = self._chosen[key] = self._first_with_template(name, key[1])
        return chosen

    def _first_with_template(self, name: str, language: str) -> str:
        if not name or name.startswith(("_", ".")) or "/" in name or "\\" in name:
            raise LookupError(f"no email template named {name!r}")
        for candidate in (language, DEFAULT_LANGUAGE):
            if self._has_template(candidate, name):
                return candidate
        raise LookupError(f"no email template named {name!r}")

    def _has_template(self, language: str, name: str) -> bool:
        return all((self._root / language / f"{name}{part}").is_file() for part in _PARTS)
