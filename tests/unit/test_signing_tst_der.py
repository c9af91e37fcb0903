"""The local TSA's fast token path gives byte for byte the token of the asn1crypto path, and
that token verifies like any other."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from asn1crypto import algos, cms, tsp

from mailbox.signing.pki import KeyMaterial
from mailbox.signing.tsa import (
    TSA_POLICY,
    LocalTimeStamper,
    local_timestamper,
    verify_timestamp_token,
)
from mailbox.signing.tst_der import TokenParts, assemble_token, der

DIGEST = hashlib.sha256(b"evidence record").digest()


def fixed_signature(data: bytes, md_algorithm: str = "sha256") -> bytes:
    return hashlib.sha256(b"signature over " + data).digest() * 2  # deterministic stand-in


@pytest.fixture(scope="module")
def timestamper(key_material: KeyMaterial) -> LocalTimeStamper:
    return local_timestamper(key_material)


@pytest.mark.parametrize("nonce", [None, 1, 2**63 + 12345])
@pytest.mark.parametrize(
    "gen_time",
    [datetime(2026, 11, 26, 9, 14, 3, 123456, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)],
)
def test_fast_token_is_the_reference_encoding(
    timestamper: LocalTimeStamper, key_material: KeyMaterial, nonce: int | None, gen_time: datetime
) -> None:
    serial = 2**126 + 987654321
    imprint = tsp.MessageImprint(
        {"hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}), "hashed_message": DIGEST}
    )
    reference = timestamper.assemble(
        imprint, nonce=nonce, serial=serial, gen_time=gen_time, sign=fixed_signature
    ).dump()
    parts = TokenParts.build(
        policy=TSA_POLICY,
        md_algorithm="sha256",
        signature_mechanism="sha256_ecdsa",
        tsa_cert_der=key_material.tsa_cert.dump(),
        signing_certificate_attribute=timestamper._signing_certificate_der,
    )

    fast = assemble_token(
        parts,
        digest=DIGEST,
        serial=serial,
        gen_time=gen_time,
        nonce=nonce,
        content_digest=lambda data: hashlib.sha256(data).digest(),
        sign=fixed_signature,
    )

    assert fast == reference
    assert cms.ContentInfo.load(fast).dump(force=True) == fast  # canonical DER


def test_fast_token_verifies(timestamper: LocalTimeStamper, key_material: KeyMaterial) -> None:
    token = timestamper.token(DIGEST).dump()

    gen_time = verify_timestamp_token(token, DIGEST, trust_root=key_material.root_cert)

    assert abs((datetime.now(UTC) - gen_time).total_seconds()) < 60


@pytest.mark.parametrize("size", [0, 1, 127, 128, 255, 256, 65535, 65536])
def test_der_lengths_are_definite_and_minimal(size: int) -> None:
    encoded = der(0x04, b"\x00" * size)
    from asn1crypto import core

    assert encoded == core.OctetString(b"\x00" * size).dump()
