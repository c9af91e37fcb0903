"""The local PKI: what ``create_local_pki`` writes, and how loading fails."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from pathlib import Path

import jwt
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from mailbox.signing.pki import (
    PKI_FILES,
    KeyMaterial,
    KeyMaterialMissing,
    create_local_pki,
    load_key_material,
)


def test_create_local_pki_writes_every_file(pki_dir: Path) -> None:
    assert sorted(p.name for p in pki_dir.iterdir() if p.name in PKI_FILES) == sorted(PKI_FILES)
    assert {"root.crt", "seal.key", "tsa.crt", "token.key", "evidence.key"} <= set(PKI_FILES)


def test_create_local_pki_restricts_private_files(pki_dir: Path) -> None:
    assert stat.S_IMODE(pki_dir.stat().st_mode) == 0o700
    for key_file in pki_dir.glob("*.key"):
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600, key_file.name


def test_tsa_certificate_has_critical_timestamping_eku(pki_dir: Path) -> None:
    cert = x509.load_pem_x509_certificate((pki_dir / "tsa.crt").read_bytes())
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical
    assert list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]


def test_leaf_certificates_chain_to_root(pki_dir: Path) -> None:
    root = x509.load_pem_x509_certificate((pki_dir / "root.crt").read_bytes())
    for name in ("seal", "evidence", "tsa", "token"):
        leaf = x509.load_pem_x509_certificate((pki_dir / f"{name}.crt").read_bytes())
        leaf.verify_directly_issued_by(root)


def test_seal_certificate_allows_non_repudiation(pki_dir: Path) -> None:
    cert = x509.load_pem_x509_certificate((pki_dir / "seal.crt").read_bytes())
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment


def test_create_local_pki_refuses_to_overwrite(pki_dir: Path) -> None:
    before = (pki_dir / "seal.key").read_bytes()
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        create_local_pki(pki_dir)
    assert (pki_dir / "seal.key").read_bytes() == before


def test_load_key_material_without_pki_names_init_command(tmp_path: Path) -> None:
    with pytest.raises(KeyMaterialMissing, match="python -m mailbox init") as caught:
        load_key_material(tmp_path)
    assert isinstance(caught.value, FileNotFoundError)
    assert "seal.key" in str(caught.value)


def test_load_key_material_with_missing_file_fails(tmp_path: Path) -> None:
    create_local_pki(tmp_path / "keys")
    (tmp_path / "keys" / "tsa.key").unlink()
    with pytest.raises(KeyMaterialMissing, match=r"tsa\.key"):
        load_key_material(tmp_path / "keys")


def test_load_key_material_with_mismatched_key_fails(tmp_path: Path) -> None:
    create_local_pki(tmp_path / "keys")
    keys = tmp_path / "keys"
    (keys / "seal.key").chmod(0o600)
    (keys / "seal.key").write_bytes((keys / "evidence.key").read_bytes())
    with pytest.raises(ValueError, match=r"seal\.key"):
        load_key_material(keys)


def test_token_jwk_verifies_tokens_signed_with_token_key(key_material: KeyMaterial) -> None:
    jwk = key_material.token_public_jwk()
    assert jwk["kid"] == key_material.token_kid
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("EC", "P-256", "ES256", "sig")
    token = jwt.encode(
        {"sub": "a"}, key_material.token_key, algorithm="ES256", headers={"kid": jwk["kid"]}
    )
    assert jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["ES256"]) == {"sub": "a"}


def test_token_kid_is_rfc7638_thumbprint(key_material: KeyMaterial) -> None:
    jwk = key_material.token_public_jwk()
    required = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(required, sort_keys=True, separators=(",", ":")).encode()
    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=")
    assert key_material.token_kid == expected.decode()
