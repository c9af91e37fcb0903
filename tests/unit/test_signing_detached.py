"""Detached seals over data documents: canonical JSON, sealed and timestamped with the seal key,
verified offline against the root; a changed byte, another root or a foreign blob is caught."""

from __future__ import annotations

import pytest

from mailbox.signing.detached import (
    DetachedSealInvalid,
    canonical_json,
    validate_detached,
)
from mailbox.signing.pki import KeyMaterial
from mailbox.signing.seal import Sealer

NOTICE = {
    "international_application_number": "PCT/EP2026/012345",
    "designated_office": "JP",
    "national_application_number": "2026-501234",
    "entry_date": "2026-11-30",
    "status": "entered",
    "applicant_reference": "Müller & Co / P123",
}


def test_canonical_json_sorts_keys_drops_whitespace_and_keeps_unicode() -> None:
    assert (
        canonical_json({"b": 1, "a": ["ü", None, True]}) == '{"a":["ü",null,true],"b":1}'.encode()
    )
    assert canonical_json(NOTICE) == canonical_json(dict(reversed(list(NOTICE.items()))))


@pytest.mark.parametrize(
    "document",
    [{"amount": 1.5}, {"when": object()}, {1: "x"}, [float("nan")]],
    ids=["fraction", "not json", "integer key", "nan"],
)
def test_canonical_json_refuses_what_has_no_single_text_form(document: object) -> None:
    with pytest.raises(DetachedSealInvalid):
        canonical_json(document)


def test_a_sealed_notice_verifies_offline_with_its_time(
    sealer: Sealer, key_material: KeyMaterial
) -> None:
    data = canonical_json(NOTICE)

    report = validate_detached(data, sealer.seal_data(data), trust_root=key_material.root_cert)

    assert report.ok
    assert report.signed_at is not None
    assert report.signer


def test_a_changed_notice_fails_its_seal(sealer: Sealer, key_material: KeyMaterial) -> None:
    seal = sealer.seal_data(canonical_json(NOTICE))
    changed = canonical_json({**NOTICE, "entry_date": "2026-12-01"})

    report = validate_detached(changed, seal, trust_root=key_material.root_cert)

    assert not report.intact
    assert not report.ok


def test_a_seal_checked_against_another_root_is_not_trusted(
    sealer: Sealer, other_key_material: KeyMaterial
) -> None:
    data = canonical_json(NOTICE)

    report = validate_detached(
        data, sealer.seal_data(data), trust_root=other_key_material.root_cert
    )

    assert report.intact
    assert not report.trusted
    assert not report.ok


@pytest.mark.parametrize("seal", [b"", b"not a seal", b"\x30\x03\x02\x01\x01"])
def test_a_blob_that_is_no_seal_is_refused_with_a_reason(
    seal: bytes, key_material: KeyMaterial
) -> None:
    with pytest.raises(DetachedSealInvalid):
        validate_detached(b"{}", seal, trust_root=key_material.root_cert)
