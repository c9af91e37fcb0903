"""Verifying a proof-of-delivery bundle offline: an untouched bundle passes against the service
root; tampering with each part (the log checkpoint and the records' inclusion proofs too), or
trusting another root, fails the check that names it; a record left out of the bundle is not
detected (what a checkpoint cannot prove); what is not a bundle is refused (exit 2 on the
command line)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import os
import re
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from asn1crypto import cms

from mailbox.deliveries.pickup import pick_up
from mailbox.identity.principal import load_principal
from mailbox.proof.bundle import build_bundle
from mailbox.proof.check import InputUnreadable, verify_bundle
from mailbox.services import Services
from mailbox.signing.pki import KeyMaterial
from mailbox.signing.records import cert_pem
from tests.factories import deliver, make_world

ROOT = Path(__file__).resolve().parents[2]
Evidence = dict


async def _picked_up_bundle(services: Services) -> bytes:
    """The bundle of a delivery whose records are 1, 2 and 5: another delivery's 3 and 4 lie
    between them in the log."""
    world = await make_world(services)
    delivery = await deliver(services, world)
    await deliver(services, world, dossier_number="EP24000001.1", title="Another one")
    async with services.db.session() as session:
        applicant = await load_principal(session, world.applicant.id)
    await pick_up(services, applicant, delivery.id, ip="198.51.100.4")
    return (await build_bundle(services, applicant, delivery.id)).content


@pytest.fixture(scope="module")
def built() -> dict[str, bytes]:
    """Bundles built in this module. A bundle is immutable bytes, so the one built for the first
    test serves the others (the world it needs costs half a second to make)."""
    return {}


@pytest.fixture
async def bundle(services: Services, built: dict[str, bytes]) -> bytes:
    if "picked-up" not in built:
        built["picked-up"] = await _picked_up_bundle(services)
    return built["picked-up"]


def _replace(bundle: bytes, name: str, change: Callable[[bytes], bytes]) -> bytes:
    """A copy of ``bundle`` with file ``name`` passed through ``change``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(bundle)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            target.writestr(info, change(content) if info.filename == name else content)
    return out.getvalue()


def _flip_byte(at: int) -> Callable[[bytes], bytes]:
    """Flip one bit of the byte at ``at``; negative counts from the end, as in slices."""

    def change(data: bytes) -> bytes:
        index = at % len(data)
        return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]

    return change


def _contents_start(data: bytes) -> int:
    """Where the hex digits of the seal's CMS container (``/Contents <...>``) begin."""
    byte_range = re.search(rb"/ByteRange\s*\[\s*\d+\s+(\d+)", data)
    assert byte_range is not None
    return int(byte_range[1]) + 1  # just after the "<"


def _change_hex_digit(data: bytes, index: int) -> bytes:
    digit = b"1" if data[index : index + 1] == b"0" else b"0"
    return data[:index] + digit + data[index + 1 :]


def _change_seal_signature(data: bytes) -> bytes:
    """Change one digit of the seal's signature value inside its CMS container."""
    start = _contents_start(data)
    der = bytes.fromhex(data[start : data.index(b">", start)].decode())
    signature = cms.ContentInfo.load(der)["content"]["signer_infos"][0]["signature"].native
    return _change_hex_digit(data, start + 2 * der.index(signature) + 10)


def _change_seal_padding(data: bytes) -> bytes:
    """Change a digit of the zero padding after the seal's DER (about 5,400 of the 12,288
    reserved hex digits are used): bytes that no signature covers, as PAdES has it."""
    return _change_hex_digit(data, _contents_start(data) + 12_000)


# Byte 600 lies in the office's original content.
_IN_CONTENT = _flip_byte(600)


def _edit_json(edit: Callable[[Evidence], None]) -> Callable[[bytes], bytes]:
    def change(raw: bytes) -> bytes:
        evidence = json.loads(raw)
        edit(evidence)
        return json.dumps(evidence, indent=2).encode()

    return change


def _change_actor(evidence: Evidence) -> None:
    evidence["records"][-1]["actor"] = "user:someone-else"


def _swap_signatures(evidence: Evidence) -> None:
    first, second = evidence["records"][0], evidence["records"][1]
    first["signature"], second["signature"] = second["signature"], first["signature"]


def _truncate_token(evidence: Evidence) -> None:
    record = evidence["records"][0]
    token = base64.b64decode(record["timestamp_token"])
    record["timestamp_token"] = base64.b64encode(token[:-20]).decode()


def _swap_records(evidence: Evidence) -> None:
    records = evidence["records"]
    records[0], records[1] = records[1], records[0]


def _change_proof_element(evidence: Evidence) -> None:
    proof = evidence["records"][1]["inclusion_proof"]
    proof[-1] = ("0" if proof[-1][0] != "0" else "1") + proof[-1][1:]


def _claim_other_leaf(evidence: Evidence) -> None:
    evidence["records"][2]["leaf_index"] = 2  # record 5 claims to be record 3's leaf


def _change_root(checkpoint: Evidence) -> None:
    checkpoint["root"] = "ab" * 32


def _change_root_and_rehash(checkpoint: Evidence) -> None:
    """A forger who recomputes the checkpoint's hash still cannot sign it."""
    checkpoint["root"] = "ab" * 32
    body = {k: checkpoint[k] for k in ("created_at", "root", "size")}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    checkpoint["checkpoint_hash"] = hashlib.sha256(canonical).hexdigest()


def _truncate_checkpoint_token(checkpoint: Evidence) -> None:
    token = base64.b64decode(checkpoint["timestamp_token"])
    checkpoint["timestamp_token"] = base64.b64encode(token[:-20]).decode()


async def _verify(bundle: bytes, key_material: KeyMaterial):
    return await asyncio.to_thread(verify_bundle, bundle, trust_root=key_material.root_cert)


async def test_untouched_bundle_passes_every_check(
    bundle: bytes, key_material: KeyMaterial
) -> None:
    report = await _verify(bundle, key_material)

    assert report.ok, report
    assert len(report.findings) == 12
    links = next(f for f in report.findings if f.check == "order and links")
    assert "1 of 2 neighbours have consecutive seq and link" in links.detail
    # No checkpoint existed: one of the whole log (5 records) was made for the bundle.
    included = next(f for f in report.findings if f.check == "inclusion proofs")
    assert included.detail == "3 records are in the checkpoint's log of 5 records"
    assert any("cannot show that the bundle holds all" in note for note in report.notes)


async def test_a_record_left_out_is_not_detected_by_the_bundle_alone(
    bundle: bytes, key_material: KeyMaterial
) -> None:
    """What the checkpoint does not prove: completeness (the note and the README say so)."""

    def drop_handover(evidence: Evidence) -> None:
        evidence["records"].pop()

    report = await _verify(
        _replace(bundle, "evidence.json", _edit_json(drop_handover)), key_material
    )

    assert report.ok, report


@pytest.mark.parametrize(
    ("part", "change", "failed_check", "detail_fragment"),
    [
        ("document.pdf", _IN_CONTENT, "document seal", "altered after sealing"),
        ("document.pdf", _IN_CONTENT, "document hash", "differs from records [1, 2, 5]"),
        ("document.pdf", _IN_CONTENT, "original document", "no original"),
        ("document.pdf", _change_seal_signature, "document seal", "signature invalid"),
        # Padding is not signed (PAdES): the seal still validates, the file's hash does not.
        ("document.pdf", _change_seal_padding, "document hash", "differs"),
        ("evidence.json", _edit_json(_change_actor), "record hashes", "record 5"),
        ("evidence.json", _edit_json(_swap_signatures), "signatures", "record 1"),
        ("evidence.json", _edit_json(_truncate_token), "timestamps", "record 1"),
        ("evidence.json", _edit_json(_swap_records), "order and links", "not in seq order"),
        (
            "evidence.json",
            _edit_json(_change_proof_element),
            "inclusion proofs",
            "record 2: inclusion proof does not lead to the root",
        ),
        (
            "evidence.json",
            _edit_json(_claim_other_leaf),
            "inclusion proofs",
            "record 5: leaf index 2 is not seq - 1",
        ),
        (
            "checkpoint.json",
            _edit_json(_change_root),
            "checkpoint signature",
            "changed after signing",
        ),
        (
            "checkpoint.json",
            _edit_json(_change_root),
            "inclusion proofs",
            "record 1: inclusion proof does not lead to the root",
        ),
        (
            "checkpoint.json",
            _edit_json(_change_root_and_rehash),
            "checkpoint signature",
            "signature does not verify",
        ),
        (
            "checkpoint.json",
            _edit_json(_truncate_checkpoint_token),
            "checkpoint timestamp",
            "",
        ),
        ("receipt.pdf", _IN_CONTENT, "receipt seal", "altered after sealing"),
    ],
    ids=[
        "document-content-byte-flipped",
        "document-hash",
        "original-document",
        "document-seal-signature-changed",
        "document-seal-padding-changed",
        "record-actor-changed",
        "signatures-swapped",
        "token-truncated",
        "records-reordered",
        "proof-element-changed",
        "leaf-index-claimed",
        "checkpoint-root-changed",
        "checkpoint-root-changed-proofs",
        "checkpoint-root-changed-and-rehashed",
        "checkpoint-token-truncated",
        "receipt-byte-flipped",
    ],
)
async def test_tampered_part_fails_the_check_that_names_it(
    bundle: bytes,
    key_material: KeyMaterial,
    part: str,
    change: Callable[[bytes], bytes],
    failed_check: str,
    detail_fragment: str,
) -> None:
    report = await _verify(_replace(bundle, part, change), key_material)

    assert not report.ok
    finding = next(f for f in report.findings if f.check == failed_check)
    assert not finding.passed
    assert detail_fragment in finding.detail, finding.detail


async def test_another_root_fails_trust_everywhere_it_is_needed(
    bundle: bytes, other_key_material: KeyMaterial
) -> None:
    report = await _verify(bundle, other_key_material)

    assert not report.ok
    assert set(report.failed()) == {
        "document seal",
        "evidence certificate",
        "timestamps",
        "checkpoint timestamp",
        "receipt seal",
    }


async def test_bundled_root_is_never_trusted(
    bundle: bytes, key_material: KeyMaterial, other_key_material: KeyMaterial
) -> None:
    """Swapping the bundle's root.pem changes nothing: the auditor's root decides."""
    impostor = cert_pem(other_key_material.root_cert).encode()
    swapped = _replace(bundle, "certificates/root.pem", lambda _: impostor)

    still_true = await _verify(swapped, key_material)
    with_impostor = await asyncio.to_thread(
        verify_bundle, swapped, trust_root=other_key_material.root_cert
    )

    assert still_true.ok
    assert any("not the trust root" in note for note in still_true.notes)
    assert not with_impostor.ok


async def test_what_is_not_a_bundle_is_refused(bundle: bytes) -> None:
    without_evidence = io.BytesIO()
    with zipfile.ZipFile(without_evidence, "w") as archive:
        archive.writestr("document.pdf", b"%PDF-1.7")

    with pytest.raises(InputUnreadable, match="not a readable ZIP"):
        verify_bundle(b"%PDF-1.7 not a zip", trust_root=None)  # type: ignore[arg-type]
    missing = re.escape(
        "evidence.json, checkpoint.json, receipt.pdf, certificates/evidence.pem missing"
    )
    with pytest.raises(InputUnreadable, match=missing):
        verify_bundle(without_evidence.getvalue(), trust_root=None)  # type: ignore[arg-type]


async def _cli(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mailbox",
        *args,
        cwd=ROOT,
        env=dict(os.environ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, stdout.decode(), stderr.decode()


async def test_cli_names_the_failed_check_and_exits_1(
    bundle: bytes, key_material: KeyMaterial, tmp_path: Path
) -> None:
    tampered = tmp_path / "proof.zip"
    tampered.write_bytes(_replace(bundle, "evidence.json", _edit_json(_change_actor)))
    root = tmp_path / "root.pem"
    root.write_text(cert_pem(key_material.root_cert))

    code, stdout, _ = await _cli("audit", "verify-bundle", str(tampered), "--root", str(root))

    assert code == 1
    assert "✗ record hashes: record 5: content changed after signing" in stdout
    assert "✓ document seal" in stdout
    assert "FAILED" in stdout.splitlines()[-1]


async def test_cli_refuses_a_file_that_is_not_a_bundle_with_exit_2(
    key_material: KeyMaterial, tmp_path: Path
) -> None:
    not_a_bundle = tmp_path / "proof.zip"
    not_a_bundle.write_bytes(b"%PDF-1.7 this is a PDF, not a proof bundle")
    root = tmp_path / "root.pem"
    root.write_text(cert_pem(key_material.root_cert))

    code, stdout, stderr = await _cli(
        "--json", "audit", "verify-bundle", str(not_a_bundle), "--root", str(root)
    )

    assert code == 2
    assert stdout == ""
    assert stderr.strip() == (
        "Error: Not a proof bundle: not a readable ZIP file (File is not a zip file)"
    )


def _no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert len(stderr) < 1000


async def test_cli_reports_a_document_with_an_unreadable_earlier_signature_without_traceback(
    bundle: bytes, key_material: KeyMaterial, tmp_path: Path
) -> None:
    """A PDF with a broken earlier signature, sealed before dispatch refused such files: the
    document seal check fails by name (it ended in an AttributeError traceback before)."""
    from mailbox.signing.seal import Sealer
    from tests.fixtures import hostile

    sealed = Sealer(key_material).seal(hostile.unparseable_signature_field(), reason="Official")
    proof = tmp_path / "proof.zip"
    proof.write_bytes(_replace(bundle, "document.pdf", lambda _: sealed))
    root = tmp_path / "root.pem"
    root.write_text(cert_pem(key_material.root_cert))

    code, stdout, stderr = await _cli("audit", "verify-bundle", str(proof), "--root", str(root))

    assert code == 1
    assert "✗ document seal: The signed PDF could not be read" in stdout
    assert "✓ record signatures" in stdout or "✓ signatures" in stdout
    _no_traceback(stderr)


def _lie_about_size(archive: bytes, size: int) -> bytes:
    """``archive`` whose central directory claims its first member unpacks to ``size`` bytes."""
    at = archive.index(b"PK\x01\x02") + 24
    return archive[:at] + size.to_bytes(4, "little") + archive[at + 4 :]


CRAFTED_BUNDLES: dict[str, Callable[[bytes], bytes]] = {
    "deeply-nested-evidence": lambda b: _replace(
        b, "evidence.json", lambda _: b"[" * 100_000 + b"]" * 100_000
    ),
    "records-not-a-list": lambda b: _replace(
        b, "evidence.json", _edit_json(lambda e: e.update(records={"a": 1}))
    ),
    "signature-a-number": lambda b: _replace(
        b, "evidence.json", _edit_json(lambda e: e["records"][0].update(signature=12345))
    ),
    "proof-of-objects": lambda b: _replace(
        b,
        "evidence.json",
        _edit_json(lambda e: e["records"][1].update(inclusion_proof=[{"x": 1}], leaf_index=[])),
    ),
    "checkpoint-a-list": lambda b: _replace(b, "checkpoint.json", lambda _: b"[1, 2, 3]"),
    "receipt-not-a-pdf": lambda b: _replace(b, "receipt.pdf", lambda _: b"%PDF-1.7\n\x00" * 50),
    "claims-to-unpack-to-4-gb": lambda b: _lie_about_size(b, 0xFFFFFFFF),
}


@pytest.mark.parametrize("craft", CRAFTED_BUNDLES.values(), ids=CRAFTED_BUNDLES.keys())
async def test_a_crafted_bundle_fails_a_named_check_or_is_refused_never_crashes(
    bundle: bytes, key_material: KeyMaterial, craft: Callable[[bytes], bytes]
) -> None:
    try:
        report = await _verify(craft(bundle), key_material)
    except InputUnreadable as refused:
        assert "\n" not in str(refused) and len(str(refused)) < 500
    else:
        assert not report.ok
        assert all(len(f.detail) < 1000 for f in report.findings)


async def test_cli_ends_a_crafted_bundle_with_one_line_and_exit_2(
    bundle: bytes, key_material: KeyMaterial, tmp_path: Path
) -> None:
    proof = tmp_path / "proof.zip"
    proof.write_bytes(CRAFTED_BUNDLES["deeply-nested-evidence"](bundle))
    root = tmp_path / "root.pem"
    root.write_text(cert_pem(key_material.root_cert))

    code, stdout, stderr = await _cli("audit", "verify-bundle", str(proof), "--root", str(root))

    assert code == 2
    assert stdout == ""
    assert stderr == "Error: evidence.json is malformed: nested too deeply\n"
