"""Signatures over evidence records: ECDSA P-256 with SHA-256, DER-encoded (as in X.509/CMS)."""

from __future__ import annotations

from functools import lru_cache

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["cert_pem", "sign_record", "verify_record"]

Certificate = asn1_x509.Certificate | x509.Certificate


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
