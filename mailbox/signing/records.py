"""Signatures over evidence records: ECDSA P-256 with SHA-256, DER-encoded (as in X.509/CMS),
and the :class:`EvidenceSigner` that signs and timestamps a record's hash with the service's
evidence key and time-stamping authority."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mailbox.signing.pki import KeyMaterial
from mailbox.signing.tsa import LocalTimeStamper

__all__ = ["EvidenceSigner", "cert_pem", "sign_record", "verify_record"]

Certificate = asn1_x509.Certificate | x509.Certificate


class EvidenceSigner:
    """The evidence key and the time-stamping authority, loaded once per process."""

    def __init__(self, keys: KeyMaterial, timestamper: Any) -> None:
        self.keys = keys
        self.timestamper = timestamper

    async def sign(self, record_hash: str) -> tuple[bytes, bytes]:
        """Signature and RFC 3161 token over ``record_hash``. The in-process TSA answers in
        under a millisecond, directly; an external TSA is awaited without blocking the loop."""
        digest = bytes.fromhex(record_hash)
        if isinstance(self.timestamper, LocalTimeStamper):
            token = self.timestamper.token(digest)
        else:
            token = await self.timestamper.async_timestamp(digest, "sha256")
        return sign_record(self.keys.evidence_key, digest), token.dump()


def sign_record(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ECDSA-SHA256 signature of ``data`` by ``key`` (DER ``Ecdsa-Sig-Value``)."""
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def verify_record(cert: Certificate, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is ``cert``'s key's ECDSA-SHA256 signature over ``data``."""
    public_key = _public_key(_der(cert))
    try:
        public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def cert_pem(cert: Certificate) -> str:
    """The PEM text of ``cert`` (for bundles and the CLI)."""
    return (
        x509.load_der_x509_certificate(_der(cert))
        .public_bytes(serialization.Encoding.PEM)
        .decode("ascii")
    )


def _der(cert: Certificate) -> bytes:
    if isinstance(cert, x509.Certificate):
        return cert.public_bytes(serialization.Encoding.DER)
    return cert.dump()


# An audit checks thousands of records against the same certificate: parse it once.
@lru_cache(maxsize=16)
def _public_key(cert_der: bytes) -> ec.EllipticCurvePublicKey:
    key = x509.load_der_x509_certificate(cert_der).public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("The evidence certificate does not hold an EC key")
    return key
