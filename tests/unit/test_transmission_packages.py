"""Transmission manifests and national-phase entry notices against their published schemas:
every bad field named at once, the checked PCT number, and documents whose bytes must match."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest

from mailbox.errors import InvalidDocument, InvalidRequest
from mailbox.formats.validation import check_documents, check_notice, check_package

TODAY = date(2026, 12, 2)
PDF = b"%PDF-1.7 the search copy"


def _manifest(**overrides) -> dict:
    manifest = {
        "format": "mailbox-transmission/1",
        "international_application_number": "PCT/EP2026/012345",
        "kind": "search-copy",
        "sender": "EP",
        "final_recipient": "JP",
        "documents": [
            {
                "file": "request.pdf",
                "role": "request",
                "media_type": "application/pdf",
                "sha256": hashlib.sha256(PDF).hexdigest(),
            }
        ],
    }
    manifest.update(overrides)
    return manifest


def _fields(error: InvalidRequest | InvalidDocument) -> dict[str, str]:
    return {e.field: e.message for e in error.errors}


def test_a_good_manifest_is_accepted_as_sent() -> None:
    assert check_package(_manifest(), today=TODAY) == _manifest()


def test_a_manifest_with_several_errors_names_each_field() -> None:
    bad = _manifest(
        international_application_number="PCT/EP26/12345",
        kind="parcel",
        documents=[
            {"file": "a.pdf", "role": "claims", "media_type": "image/png", "sha256": "abc"},
            {"file": "a.pdf", "role": "cover", "media_type": "application/pdf"},
        ],
        colour="blue",
    )
    del bad["sender"]

    with pytest.raises(InvalidRequest) as refused:
        check_package(bad, today=TODAY)

    fields = _fields(refused.value)
    assert set(fields) == {
        "$",
        "sender",
        "international_application_number",
        "kind",
        "documents[0].media_type",
        "documents[0].sha256",
        "documents[1].role",
        "documents[1].sha256",
        "documents[1].file",
    }
    assert "colour" in fields["$"]
    assert "PCT/CCYYYY/NNNNNN" in fields["international_application_number"]
    assert fields["sender"] == "is required"
    assert "documents[0]" in fields["documents[1].file"]


@pytest.mark.parametrize("number", ["PCT/EP1969/000001", "PCT/EP2031/000001"])
def test_a_pct_number_of_an_impossible_year_is_refused(number: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_package(_manifest(international_application_number=number), today=TODAY)
    assert "filing year" in _fields(refused.value)["international_application_number"]


@pytest.mark.parametrize("raw", [b"\xff\xfe", b"{not json", b"[]"])
def test_a_manifest_that_is_not_a_json_object_is_refused(raw: bytes) -> None:
    with pytest.raises(InvalidRequest):
        check_package(raw, today=TODAY)


def test_documents_matching_the_manifest_pass() -> None:
    check_documents(_manifest(), {"request.pdf": PDF})


def test_a_tampered_document_missing_and_extra_files_are_each_refused() -> None:
    manifest = _manifest(
        documents=[
            *_manifest()["documents"],
            {
                "file": "claims.pdf",
                "role": "claims",
                "media_type": "application/pdf",
                "sha256": "0" * 64,
            },
        ]
    )

    with pytest.raises(InvalidDocument) as refused:
        check_documents(manifest, {"request.pdf": PDF + b" changed", "extra.pdf": PDF})

    fields = _fields(refused.value)
    assert "does not match its SHA-256" in fields["documents[0].sha256"]
    assert "was not sent" in fields["documents[1].file"]
    assert fields["extra.pdf"] == "is not in the manifest"


NOTICE = {
    "notice": "national-phase-entry/1",
    "international_application_number": "PCT/EP2025/000777",
    "designated_office": "JP",
    "national_application_number": "2026-501234",
    "entry_date": "2026-11-30",
    "status": "entered",
    "applicant_reference": "P123",
}


def test_a_valid_notice_passes() -> None:
    assert check_notice(NOTICE, today=TODAY) == NOTICE


def test_an_invalid_notice_names_each_bad_field() -> None:
    bad = {
        **NOTICE,
        "designated_office": "Japan",
        "entry_date": "2026-02-30",
        "status": "maybe",
    }
    del bad["national_application_number"]

    with pytest.raises(InvalidRequest) as refused:
        check_notice(bad, today=TODAY)

    assert set(_fields(refused.value)) == {"designated_office", "entry_date", "status"}


def test_an_entered_notice_needs_its_national_number_and_a_past_date() -> None:
    bad = {**NOTICE, "entry_date": "2027-01-15"}
    del bad["national_application_number"]

    with pytest.raises(InvalidRequest) as refused:
        check_notice(bad, today=TODAY)

    fields = _fields(refused.value)
    assert fields["national_application_number"] == "is required"
    assert fields["entry_date"] == "is in the future"
