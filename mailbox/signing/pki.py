"""The service's key material: a local PKI for a fresh install, and loading it at start-up.

``create_local_pki`` writes a self-signed root CA and four ECDSA P-256 leaves it issued (office
seal, evidence signing, time-stamping authority, API token signing). ECDSA P-256 signs about ten
times faster than RSA-2048 and keeps signatures small. ``load_key_material`` reads them back once
per process into a frozen ``KeyMaterial``; nothing re-parses PEM per signature.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "PKI_FILES",
    "KeyMaterial",
    "KeyMaterialMissing",
    "create_local_pki",
    "load_key_material",
]

INIT_COMMAND = "python -m mailbox init"
ROOT_VALIDITY = dt.timedelta(days=3652)
# Certificates start slightly in the past so that a verifier whose clock lags still accepts them.
BACKDATE = dt.timedelta(hours=1)
LEAVES = ("seal", "evidence", "tsa", "token")
PKI_FILES = ("root.crt", *(f"{name}.{ext}" for name in LEAVES for ext in ("crt", "key")))


class KeyMaterialMissing(FileNotFoundError):
    """The key directory lacks PKI files: the install has not been initialised."""


@dataclass(frozen=True)
class KeyMaterial:
    """All certificates and private keys of one service instance, parsed once."""

    root_cert: asn1_x509.Certificate
    seal_cert: asn1_x509.Certificate
    evidence_cert: asn1_x509.Certificate
    tsa_cert: asn1_x509.Certificate
    token_cert: asn1_x509.Certificate
    seal_key: ec.EllipticCurvePrivateKey
    evidence_key: ec.EllipticCurvePrivateKey
    tsa_key: ec.EllipticCurvePrivateKey
    token_key: ec.EllipticCurvePrivateKey
    token_kid: str
    key_dir: Path

    def token_public_jwk(self) -> dict[str, str]:
        """The token-signing public key as a JWK (RFC 7517) for ``/.well-known/jwks.json``."""
        return {
            **_ec_public_jwk(self.token_key.public_key()),
            "kid": self.token_kid,
            "alg": "ES256",
            "use": "sig",
        }


def create_local_pki(key_dir: Path, *, organisation: str = "Mailbox Service") -> None:
    """Create a root CA and the seal, evidence, TSA and token leaves in ``key_dir``.

    The directory is created if needed and restricted to its owner (0700); private keys are
    written 0600. Raises ``FileExistsError`` rather than replace any existing PKI file, since
    replacing keys would orphan every seal and evidence record made with them.
    """
    key_dir = Path(key_dir)
    existing = sorted(name for name in PKI_FILES if (key_dir / name).exists())
    if existing:
        raise FileExistsError(
            f"A PKI already exists in {key_dir} ({', '.join(existing)}); refusing to overwrite it. "
            "Move the directory away first if you really mean to create new keys."
        )
    key_dir.mkdir(parents=True, exist_ok=True)
    key_dir.chmod(0o700)

    not_before = dt.datetime.now(dt.UTC) - BACKDATE
    not_after = not_before + ROOT_VALIDITY
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(f"{organisation} Root CA", organisation)
    root = (
        _builder(root_name, root_name, root_key.public_key(), not_before, not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    _write(key_dir / "root.crt", root.public_bytes(serialization.Encoding.PEM), private=False)

    leaves: dict[str, tuple[str, x509.KeyUsage, list[x509.ObjectIdentifier]]] = {
        "seal": ("Office Seal", _key_usage(digital_signature=True, content_commitment=True), []),
        "evidence": ("Evidence", _key_usage(digital_signature=True, content_commitment=True), []),
        # RFC 3161 section 2.3: a TSA certificate has exactly one EKU, timeStamping, critical.
        "tsa": (
            "Time-Stamping Authority",
            _key_usage(digital_signature=True, content_commitment=True),
            [ExtendedKeyUsageOID.TIME_STAMPING],
        ),
        "token": ("Token Signing", _key_usage(digital_signature=True), []),
    }
    for name, (role, key_usage, ekus) in leaves.items():
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            _builder(
                _name(f"{organisation} {role}", organisation),
                root_name,
                key.public_key(),
                not_before,
                not_after,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(key_usage, critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
                critical=False,
            )
        )
        if ekus:
            builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=True)
        cert = builder.sign(root_key, hashes.SHA256())
        _write(key_dir / f"{name}.key", _private_pem(key), private=True)
        _write(
            key_dir / f"{name}.crt", cert.public_bytes(serialization.Encoding.PEM), private=False
        )


def load_key_material(key_dir: Path) -> KeyMaterial:
    """Read the PKI written by ``create_local_pki``; raise ``KeyMaterialMissing`` if incomplete."""
    key_dir = Path(key_dir)
    missing = [name for name in PKI_FILES if not (key_dir / name).is_file()]
    if missing:
        raise KeyMaterialMissing(
            f"Key material missing in {key_dir}: {', '.join(missing)}. "
            f"Create it with `{INIT_COMMAND}`."
        )
    certs = {
        name: asn1_x509.Certificate.load(
            x509.load_pem_x509_certificate((key_dir / f"{name}.crt").read_bytes()).public_bytes(
                serialization.Encoding.DER
            )
        )
        for name in ("root", *LEAVES)
    }
    private = {name: _load_ec_key(key_dir / f"{name}.key") for name in LEAVES}
    for name in LEAVES:
        if _public_der(private[name]) != certs[name].public_key.dump():
            raise ValueError(f"{name}.key in {key_dir} does not belong to {name}.crt")
    return KeyMaterial(
        root_cert=certs["root"],
        seal_cert=certs["seal"],
        evidence_cert=certs["evidence"],
        tsa_cert=certs["tsa"],
        token_cert=certs["token"],
        seal_key=private["seal"],
        evidence_key=private["evidence"],
        tsa_key=private["tsa"],
        token_key=private["token"],
        token_kid=jwk_thumbprint(private["token"].public_key()),
        key_dir=key_dir,
    )


def jwk_thumbprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """RFC 7638 thumbprint: SHA-256 of the required JWK members in canonical JSON, base64url."""
    canonical = json.dumps(_ec_public_jwk(public_key), sort_keys=True, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def _ec_public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    if not isinstance(public_key.curve, ec.SECP256R1):
        raise ValueError(f"Token key must be P-256, not {public_key.curve.name}")
    numbers = public_key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64url(numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.y.to_bytes(32, "big")),
    }


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        ]
    )


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(**flags: bool) -> x509.KeyUsage:
    names = (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    )
    return x509.KeyUsage(**{name: flags.get(name, False) for name in names})


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _public_der(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _load_ec_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key: Any = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} is not an EC private key")
    return key


def _write(path: Path, content: bytes, *, private: bool) -> None:
    # O_EXCL: never clobber a file that appeared since the existence check.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
