"""A PDF printed by Chromium (Skia's PDF backend, as a browser-based document system makes
them) carries no active content and seals under the default policy, links and all."""

from __future__ import annotations

from typing import Any

import pytest

from mailbox.signing.pki import KeyMaterial
from mailbox.signing.seal import Sealer, validate_sealed_pdf

pytestmark = pytest.mark.browser

LETTER = """<!doctype html><html><head><meta charset="utf-8"><title>Decision</title></head>
<body><h1>Decision to grant a European patent</h1>
<p>Application EP23123456.7. See the <a href="https://register.example/EP23123456">register</a>.</p>
<p style="page-break-before: always">Page two: the grounds.</p></body></html>"""


def test_chromium_printed_pdf_seals_without_active_content(
    browser: Any, sealer: Sealer, key_material: KeyMaterial
) -> None:
    page = browser.new_page()
    try:
        page.set_content(LETTER)
        pdf = page.pdf(format="A4")
    finally:
        page.close()

    sealed = sealer.seal_document(pdf, reason="Official communication")

    assert not sealed.active_content and sealed.active_content.complete
    assert validate_sealed_pdf(sealed.pdf, trust_root=key_material.root_cert).ok
