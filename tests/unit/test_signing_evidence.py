"""ECDSA signatures over evidence records."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mailbox.signing.pki import KeyMaterial
from mailbox.signing.records import cert_pem, sign_record, verify_record

RECORD = b'{"type":"ContentConsignment","seq":1}'


def test_verify_record_signed_by_evidence_key_is_true(key_material: KeyMaterial) -> None:
    signature = sign_record(key_material.evidence_key, RECORD)

    assert verify_record(key_material.evidence_cert, RECORD, signature)


def test_verify_record_with_altered_data_is_false(key_material: KeyMaterial) -> None:
    signature = sign_record(key_material.evidence_key, RECORD)

    assert not verify_record(key_material.evidence_cert, RECORD.replace(b"1", b"2"), signature)


def test_verify_record_with_other_certificate_is_false(key_material: KeyMaterial) -> None:
    signature = sign_record(key_material.evidence_key, RECORD)

    assert not verify_record(key_material.seal_cert, RECORD, signature)


def test_verify_record_with_malformed_signature_is_false(key_material: KeyMaterial) -> None:
    assert not verify_record(key_material.evidence_cert, RECORD, b"\x30\x00")


def test_verify_record_accepts_cryptography_certificate(key_material: KeyMaterial) -> None:
    cert = x509.load_pem_x509_certificate(cert_pem(key_material.evidence_cert).encode())
    signature = sign_record(key_material.evidence_key, RECORD)

    assert verify_record(cert, RECORD, signature)


def test_cert_pem_round_trips(key_material: KeyMaterial) -> None:
    pem = cert_pem(key_material.root_cert)

    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    cert = x509.load_pem_x509_certificate(pem.encode())
    assert cert.public_bytes(serialization.Encoding.DER) == key_material.root_cert.dump()
