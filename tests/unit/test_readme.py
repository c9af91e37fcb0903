"""The README stays true: its configuration table is the settings' own documentation."""

from __future__ import annotations

from pathlib import Path

from mailbox.config_doc import settings_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_configuration_table_matches_the_settings() -> None:
    text = README.read_text()
    start = text.index("<!-- settings-table:start -->") + len("<!-- settings-table:start -->")
    end = text.index("<!-- settings-table:end -->")
    assert text[start:end].strip() == settings_table(), (
        "README configuration table is stale: regenerate it with "
        "`python -m mailbox settings --markdown`"
    )
