"""Email templates: every notice in every language, escaping, strictness and fallbacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest

from notifier import TemplateRenderer

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

DOCUMENT: dict[str, Any] = {
    "account_name": "Dupont & Associés",
    "office_name": "European Patent Office",
    "document_kind": "Communication under Rule 71(3) EPC",
    "dossier_number": "EP 24 123 456.7",
    "title": "Widget with improved hinge",
    "available_at": "2026-11-26 09:14 UTC",
    "legal_date": "Deemed delivered on 6 Dec 2026 (UTC) unless it is opened before: 10 days "
    "after it was made available on 26 Nov 2026.",
    "link": "https://mailbox.test/deliveries/dlv_1",
}
ITEM = {key: DOCUMENT[key] for key in ("office_name", "document_kind", "dossier_number")} | {
    "title": DOCUMENT["title"],
    "available_at": DOCUMENT["available_at"],
    "legal_date": DOCUMENT["legal_date"],
    "link": DOCUMENT["link"],
}
CONTEXTS: dict[str, dict[str, Any]] = {
    "new_delivery": DOCUMENT,
    "reminder": DOCUMENT | {"days_waiting": 5},
    "deemed_delivery": DOCUMENT,
    "digest": {
        "account_name": "Dupont & Associés",
        "items": [ITEM, ITEM | {"dossier_number": "EP 25 000 001.2"}],
        "inbox_link": "https://mailbox.test/inbox",
    },
    "verify_address": {
        "account_name": "Dupont & Associés",
        "address": "brevets@dupont.example",
        "link": "https://mailbox.test/verify?token=abc",
        "expires_at": "2026-11-27 09:14 UTC",
    },
}
AUTOMATIC = {"en": "automatic notice", "fr": "avis automatique"}
ONLY_IN_MAILBOX = {
    "en": "only available in your secure mailbox",
    "fr": "disponibles uniquement dans votre boîte aux lettres sécurisée",
}


@pytest.fixture(scope="module")
def renderer() -> TemplateRenderer:
    return TemplateRenderer(TEMPLATES)


def test_languages_lists_english_and_french(renderer: TemplateRenderer) -> None:
    assert renderer.languages == ("en", "fr")


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("name", sorted(CONTEXTS))
def test_render_every_notice_says_it_is_automatic_and_document_stays_in_mailbox(
    renderer: TemplateRenderer, name: str, language: str
) -> None:
    email = renderer.render_email(name, language, CONTEXTS[name])

    assert email.subject and "\n" not in email.subject
    for body in (email.text, email.html):
        assert AUTOMATIC[language] in body
        assert ONLY_IN_MAILBOX[language] in body
    assert f'<html lang="{language}">' in email.html


@pytest.mark.parametrize(
    ("language", "subject", "sentences"),
    [
        (
            "en",
            "New document from European Patent Office: Communication under Rule 71(3) EPC, "
            "EP 24 123 456.7",
            [
                "Hello Dupont & Associés,",
                "Made available:   2026-11-26 09:14 UTC",
                DOCUMENT["legal_date"],
            ],
        ),
        (
            "fr",
            "Nouveau document de European Patent Office : Communication under Rule 71(3) EPC, "
            "EP 24 123 456.7",
            [
                "Bonjour Dupont & Associés,",
                "2026-11-26 09:14 UTC",
                "Date légale de remise (texte de référence, en anglais) : "
                + DOCUMENT["legal_date"],
            ],
        ),
    ],
)
def test_render_new_delivery_with_context(
    renderer: TemplateRenderer, language: str, subject: str, sentences: list[str]
) -> None:
    email = renderer.render_email("new_delivery", language, DOCUMENT)

    assert email.subject == subject
    for sentence in sentences:
        assert sentence in email.text
    assert "EP 24 123 456.7" in email.html
    assert 'href="https://mailbox.test/deliveries/dlv_1"' in email.html


def test_render_shows_the_legal_clock_sentence_as_given(renderer: TemplateRenderer) -> None:
    """No template states a rule of its own: the sentence of the legal clock, nothing else."""
    for name in ("new_delivery", "reminder", "deemed_delivery"):
        email = renderer.render_email(name, "en", CONTEXTS[name])
        for body in (email.text, email.html):
            assert DOCUMENT["legal_date"] in body
            assert "counts for time limits" not in body and "count from" not in body


def test_render_escapes_html_but_not_text(renderer: TemplateRenderer) -> None:
    title = "<script>alert('x')</script>"

    email = renderer.render_email("new_delivery", "en", DOCUMENT | {"title": title})

    assert "<script>" not in email.html
    assert "&lt;script&gt;" in email.html
    assert "Dupont &amp; Associés" in email.html
    assert title in email.text


def test_render_subject_stays_on_one_line(renderer: TemplateRenderer) -> None:
    context = DOCUMENT | {"office_name": "Office\r\nBcc: victim@example.com"}

    email = renderer.render_email("new_delivery", "en", context)

    assert "\r" not in email.subject and "\n" not in email.subject


@pytest.mark.parametrize(("days", "phrase"), [(1, "for 1 day and"), (5, "for 5 days and")])
def test_render_reminder_counts_days(renderer: TemplateRenderer, days: int, phrase: str) -> None:
    email = renderer.render_email("reminder", "en", DOCUMENT | {"days_waiting": days})

    assert phrase in email.text


def test_render_missing_context_key_raises(renderer: TemplateRenderer) -> None:
    context = {key: value for key, value in DOCUMENT.items() if key != "available_at"}

    with pytest.raises(jinja2.UndefinedError, match="available_at"):
        renderer.render_email("new_delivery", "en", context)


@pytest.mark.parametrize(
    ("language", "greeting"),
    [("de", "Hello"), ("", "Hello"), ("fr-CH", "Bonjour"), ("FR", "Bonjour"), ("fr_BE", "Bonjour")],
)
def test_render_language_resolution_falls_back_to_english(
    renderer: TemplateRenderer, language: str, greeting: str
) -> None:
    email = renderer.render_email("new_delivery", language, DOCUMENT)

    assert email.text.startswith(greeting)


@pytest.mark.parametrize("name", ["no_such_notice", "_layout", "../en/new_delivery", ""])
def test_render_unknown_template_raises_lookup_error(renderer: TemplateRenderer, name: str) -> None:
    with pytest.raises(LookupError, match="no email template named"):
        renderer.render_email(name, "en", DOCUMENT)
