"""Sealing PDFs and validating seals, with genuine pyHanko signatures and tamper tests."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer
from pyhanko.sign import signers
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator.registry import SimpleCertificateStore

from mailbox.signing.pki import KeyMaterial
from mailbox.signing.seal import (
    PdfRejected,
    Sealer,
    inspect_pdf,
    load_pkcs12_signer,
    validate_sealed_pdf,
)
from mailbox.signing.tsa import offline_context, remote_timestamper
from tests.fixtures import hostile
from tests.fixtures.pki import MakePdf


def office_signed(pdf: bytes, office: KeyMaterial, **meta: object) -> bytes:
    """``pdf`` signed by an office with its own PKI, as offices send documents."""
    key = asn1_keys.PrivateKeyInfo.load(
        office.seal_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    signer = signers.SimpleSigner(
        office.seal_cert, key, SimpleCertificateStore.from_certs([office.root_cert])
    )
    out = signers.sign_pdf(
        IncrementalPdfFileWriter(BytesIO(pdf)),
        signers.PdfSignatureMetadata(field_name="OfficeSignature", **meta),  # type: ignore[arg-type]
        signer=signer,
    )
    return out.getvalue()


def encrypted(pdf: bytes) -> bytes:
    writer = copy_into_new_writer(PdfFileReader(BytesIO(pdf)))
    writer.encrypt(owner_pass=b"owner", user_pass=b"user")
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def test_inspect_pdf_counts_pages(make_pdf: MakePdf) -> None:
    assert inspect_pdf(make_pdf(pages=3)).page_count == 3


def test_seal_sealed_pdf_validates(sealed_pdf: bytes, key_material: KeyMaterial) -> None:
    result = validate_sealed_pdf(sealed_pdf, trust_root=key_material.root_cert)

    assert result.intact and result.valid and result.trusted
    assert result.timestamp_valid
    assert result.coverage == "ENTIRE_FILE"
    assert result.signer == "Test Patent Office Office Seal"
    assert result.signed_at is not None and result.signed_at.tzinfo is not None
    assert abs(datetime.now(UTC) - result.signed_at) < timedelta(minutes=5)
    assert result.ok


def test_seal_keeps_original_bytes_as_prefix(sealed_pdf: bytes, sample_pdf: bytes) -> None:
    # An incremental update: the dispatched document is byte-for-byte inside the sealed one.
    assert sealed_pdf.startswith(sample_pdf)


def test_seal_records_reason_and_location(sealed_pdf: bytes) -> None:
    signature = PdfFileReader(BytesIO(sealed_pdf)).embedded_signatures[-1]
    assert signature.field_name == "OfficialSeal"
    assert signature.sig_object["/Reason"] == "Official communication"
    assert signature.sig_object["/Location"] == "EP"


def test_validate_against_other_root_is_untrusted(
    sealed_pdf: bytes, other_key_material: KeyMaterial
) -> None:
    result = validate_sealed_pdf(sealed_pdf, trust_root=other_key_material.root_cert)

    assert result.intact and result.valid
    assert not result.trusted
    assert not result.timestamp_valid
    assert not result.ok


def test_validate_tampered_seal_is_not_intact(sealed_pdf: bytes, key_material: KeyMaterial) -> None:
    # As pyHanko's test_simple_sign_tamper: change the media box inside the signed range, so
    # the file stays a readable PDF but no longer matches its signature.
    offset = sealed_pdf.index(b"/MediaBox [ 0 0 595.2756")
    tampered = bytearray(sealed_pdf)
    tampered[offset + len(b"/MediaBox [ 0 0 5")] = ord("4")

    result = validate_sealed_pdf(bytes(tampered), trust_root=key_material.root_cert)

    assert not result.intact
    assert not result.valid
    assert not result.trusted
    assert not result.ok


def test_seal_many_pages_and_5mb_validates(
    sealer: Sealer, make_pdf: MakePdf, key_material: KeyMaterial
) -> None:
    pdf = make_pdf(pages=20, size_bytes=5_000_000)
    assert len(pdf) >= 5_000_000

    sealed = sealer.seal(pdf, reason="Large scan")

    assert validate_sealed_pdf(sealed, trust_root=key_material.root_cert).ok


def test_seal_office_signed_pdf_keeps_both_signatures_valid(
    sealer: Sealer,
    sample_pdf: bytes,
    key_material: KeyMaterial,
    other_key_material: KeyMaterial,
) -> None:
    signed_by_office = office_signed(sample_pdf, other_key_material)

    sealed = sealer.seal(signed_by_office, reason="Official communication")

    assert validate_sealed_pdf(sealed, trust_root=key_material.root_cert).ok
    office_signature, seal = PdfFileReader(BytesIO(sealed)).embedded_signatures
    assert (office_signature.field_name, seal.field_name) == ("OfficeSignature", "OfficialSeal")
    office_status = validate_pdf_signature(
        office_signature, offline_context(other_key_material.root_cert)
    )
    assert office_status.intact and office_status.valid and office_status.trusted
    assert office_status.docmdp_ok


def test_seal_twice_uses_new_field(
    sealer: Sealer, sealed_pdf: bytes, key_material: KeyMaterial
) -> None:
    resealed = sealer.seal(sealed_pdf, reason="Corrected dispatch")

    names = [s.field_name for s in PdfFileReader(BytesIO(resealed)).embedded_signatures]
    assert names == ["OfficialSeal", "OfficialSeal2"]
    assert validate_sealed_pdf(resealed, trust_root=key_material.root_cert).ok


def test_seal_certified_no_changes_pdf_is_rejected_as_locked(
    sealer: Sealer, sample_pdf: bytes, other_key_material: KeyMaterial
) -> None:
    locked = office_signed(
        sample_pdf, other_key_material, certify=True, docmdp_permissions=MDPPerm.NO_CHANGES
    )

    with pytest.raises(PdfRejected) as caught:
        sealer.seal(locked, reason="Official communication")
    assert caught.value.reason == "locked"


@pytest.mark.parametrize(
    ("make_input", "reason"),
    [
        pytest.param(lambda pdf: b"", "empty", id="empty"),
        pytest.param(lambda pdf: b"PK\x03\x04 a zip, not a PDF", "not_pdf", id="zip"),
        pytest.param(lambda pdf: pdf[: len(pdf) // 2], "malformed", id="truncated"),
        pytest.param(lambda pdf: b"%PDF-1.7\n" + b"\x00garbage" * 100, "malformed", id="garbage"),
        pytest.param(encrypted, "encrypted", id="encrypted"),
    ],
)
def test_seal_unusable_input_is_rejected(
    sealer: Sealer, sample_pdf: bytes, make_input, reason: str
) -> None:
    data = make_input(sample_pdf)

    with pytest.raises(PdfRejected) as caught:
        sealer.seal(data, reason="Official communication")
    assert caught.value.reason == reason
    assert str(caught.value)
    with pytest.raises(PdfRejected) as inspected:
        inspect_pdf(data)
    assert inspected.value.reason == reason


def test_validate_unsigned_pdf_is_rejected(sample_pdf: bytes, key_material: KeyMaterial) -> None:
    with pytest.raises(PdfRejected) as caught:
        validate_sealed_pdf(sample_pdf, trust_root=key_material.root_cert)
    assert caught.value.reason == "unsigned"


async def test_seal_inside_running_event_loop_still_works(
    sealer: Sealer, sample_pdf: bytes, key_material: KeyMaterial
) -> None:
    # Callers should seal off the loop, but one that forgets gets a result, not a RuntimeError.
    sealed = sealer.seal(sample_pdf, reason="Official communication")
    assert validate_sealed_pdf(sealed, trust_root=key_material.root_cert).ok


def test_seal_with_pkcs12_signer_validates(
    tmp_path: Path, pki_dir: Path, key_material: KeyMaterial, sample_pdf: bytes
) -> None:
    bundle = pkcs12.serialize_key_and_certificates(
        b"seal",
        key_material.seal_key,
        x509.load_pem_x509_certificate((pki_dir / "seal.crt").read_bytes()),
        [x509.load_pem_x509_certificate((pki_dir / "root.crt").read_bytes())],
        serialization.BestAvailableEncryption(b"secret"),
    )
    (tmp_path / "seal.p12").write_bytes(bundle)
    signer = load_pkcs12_signer(tmp_path / "seal.p12", b"secret")

    sealed = Sealer(key_material, signer=signer).seal(sample_pdf, reason="Official")

    assert validate_sealed_pdf(sealed, trust_root=key_material.root_cert).ok


@pytest.mark.parametrize("build", hostile.BROKEN_SIGNATURES.values(), ids=hostile.BROKEN_SIGNATURES)
def test_seal_document_refuses_an_existing_signature_that_cannot_be_read(
    sealer: Sealer, build
) -> None:
    with pytest.raises(PdfRejected) as caught:
        sealer.seal_document(build(), reason="Official communication")

    assert caught.value.reason == "malformed"
    assert str(caught.value).startswith("An existing signature in the PDF cannot be read")
    assert len(str(caught.value)) < 500


@pytest.mark.parametrize("build", hostile.BROKEN_SIGNATURES.values(), ids=hostile.BROKEN_SIGNATURES)
def test_validate_of_a_sealed_pdf_with_an_unreadable_earlier_signature_is_rejected(
    sealer: Sealer, key_material: KeyMaterial, build
) -> None:
    # Sealed without the check (as before it existed): validation names the damage instead of
    # crashing with an AttributeError, so an auditor's check reports it.
    sealed = sealer.seal(build(), reason="Official communication")

    with pytest.raises(PdfRejected) as caught:
        validate_sealed_pdf(sealed, trust_root=key_material.root_cert)
    assert caught.value.reason == "malformed"
    assert len(str(caught.value)) < 500


@pytest.mark.parametrize("build", hostile.BROKEN_STRUCTURES.values(), ids=hostile.BROKEN_STRUCTURES)
def test_seal_of_a_structure_of_wrong_types_is_rejected_as_malformed(sealer: Sealer, build) -> None:
    pdf = build()

    for seal in (sealer.seal, sealer.seal_document):
        with pytest.raises(PdfRejected) as caught:
            seal(pdf, reason="Official communication")
        assert caught.value.reason == "malformed"
        assert "\n" not in str(caught.value)
        assert len(str(caught.value)) < 500


def test_seal_with_an_unreachable_tsa_is_our_failure_not_the_document(
    key_material: KeyMaterial, sample_pdf: bytes
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once closed
    sealer = Sealer(key_material, timestamper=remote_timestamper(f"http://127.0.0.1:{port}/"))

    with pytest.raises(OSError):
        sealer.seal_document(sample_pdf, reason="Official communication")
