"""The receipt PDF of a proof of delivery."""

from __future__ import annotations

from mailbox.signing.pki import KeyMaterial
from mailbox.signing.receipt import render_receipt
from mailbox.signing.seal import Sealer, inspect_pdf, validate_sealed_pdf

ROWS = [
    ("Delivery", "dlv_01HZX"),
    ("Document", "Communication <R. 71(3)> & annex"),
    ("SHA-256 of sealed PDF", "9f" * 32),
]
EVENTS = [
    ("2026-11-26T09:14:03.123456Z", "ContentConsignment", "service"),
    ("2026-11-27T10:01:00.000000Z", "ContentHandover", "user usr_7 from 192.0.2.1"),
]


def test_render_receipt_makes_acceptable_pdf() -> None:
    pdf = render_receipt("Proof of delivery", ROWS, EVENTS)

    assert inspect_pdf(pdf).page_count == 1


def test_render_receipt_is_deterministic() -> None:
    assert render_receipt("Proof of delivery", ROWS, EVENTS) == render_receipt(
        "Proof of delivery", ROWS, EVENTS
    )


def test_render_receipt_with_long_timeline_spans_pages() -> None:
    events = [(f"2026-11-26T09:{n % 60:02d}:00Z", "ContentAccess", f"user {n}") for n in range(150)]

    assert inspect_pdf(render_receipt("Proof of delivery", ROWS, events)).page_count > 1


def test_sealed_receipt_validates(sealer: Sealer, key_material: KeyMaterial) -> None:
    pdf = render_receipt("Proof of delivery", ROWS, EVENTS)

    sealed = sealer.seal(pdf, reason="Proof of delivery")

    assert validate_sealed_pdf(sealed, trust_root=key_material.root_cert).ok
