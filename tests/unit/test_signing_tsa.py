"""RFC 3161 timestamp tokens from the in-process TSA, verified offline against the root."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from asn1crypto import cms, tsp

from mailbox.signing.pki import KeyMaterial
from mailbox.signing.seal import Sealer, validate_sealed_pdf
from mailbox.signing.tsa import (
    LocalTimeStamper,
    TimestampInvalid,
    local_timestamper,
    remote_timestamper,
    timestamp_token,
    verify_timestamp_token,
)

DIGEST = hashlib.sha256(b"evidence record").digest()


@pytest.fixture(scope="module")
def timestamper(key_material: KeyMaterial) -> LocalTimeStamper:
    return local_timestamper(key_material)


@pytest.fixture(scope="module")
def token(timestamper: LocalTimeStamper) -> bytes:
    return timestamp_token(timestamper, DIGEST)


def test_verify_token_returns_gen_time(token: bytes, key_material: KeyMaterial) -> None:
    gen_time = verify_timestamp_token(token, DIGEST, trust_root=key_material.root_cert)

    assert gen_time.tzinfo == UTC
    assert abs(datetime.now(UTC) - gen_time) < timedelta(minutes=5)


def test_token_embeds_tsa_certificate(token: bytes, key_material: KeyMaterial) -> None:
    certificates = cms.ContentInfo.load(token)["content"]["certificates"]
    assert [c.chosen.dump() for c in certificates] == [key_material.tsa_cert.dump()]


def test_verify_token_for_other_digest_is_invalid(token: bytes, key_material: KeyMaterial) -> None:
    other = hashlib.sha256(b"another record").digest()
    with pytest.raises(TimestampInvalid, match="imprint"):
        verify_timestamp_token(token, other, trust_root=key_material.root_cert)


def test_verify_token_against_other_root_is_invalid(
    token: bytes, other_key_material: KeyMaterial
) -> None:
    with pytest.raises(TimestampInvalid, match="chain"):
        verify_timestamp_token(token, DIGEST, trust_root=other_key_material.root_cert)


def test_verify_token_with_altered_signature_is_invalid(
    token: bytes, key_material: KeyMaterial
) -> None:
    content_info = cms.ContentInfo.load(token)
    signer_info = content_info["content"]["signer_infos"][0]
    signature = bytearray(signer_info["signature"].native)
    signature[-1] ^= 0x01
    signer_info["signature"] = bytes(signature)

    with pytest.raises(TimestampInvalid):
        verify_timestamp_token(
            content_info.dump(force=True), DIGEST, trust_root=key_material.root_cert
        )


def test_verify_garbage_token_is_invalid(key_material: KeyMaterial) -> None:
    with pytest.raises(TimestampInvalid):
        verify_timestamp_token(b"\x30\x03not", DIGEST, trust_root=key_material.root_cert)


def test_timestamp_token_needs_sha256_digest(timestamper: LocalTimeStamper) -> None:
    with pytest.raises(ValueError, match="32-byte"):
        timestamp_token(timestamper, b"short")


async def test_timestamp_and_verify_inside_running_event_loop(
    timestamper: LocalTimeStamper, key_material: KeyMaterial
) -> None:
    token = timestamp_token(timestamper, DIGEST)
    gen_time = verify_timestamp_token(token, DIGEST, trust_root=key_material.root_cert)
    threaded = await asyncio.to_thread(
        verify_timestamp_token, token, DIGEST, trust_root=key_material.root_cert
    )
    assert gen_time == threaded


@pytest.fixture(scope="module")
def tsa_url(timestamper: LocalTimeStamper) -> Iterator[str]:
    """A real RFC 3161 HTTP endpoint on 127.0.0.1, answered by the local TSA."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            reply = timestamper.respond(tsp.TimeStampReq.load(body)).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tsa"
    server.shutdown()
    server.server_close()


def test_remote_timestamper_token_verifies(tsa_url: str, key_material: KeyMaterial) -> None:
    token = timestamp_token(remote_timestamper(tsa_url), DIGEST)

    assert verify_timestamp_token(token, DIGEST, trust_root=key_material.root_cert)


async def test_remote_timestamper_inside_running_event_loop(
    tsa_url: str, key_material: KeyMaterial
) -> None:
    token = timestamp_token(remote_timestamper(tsa_url), DIGEST)

    assert verify_timestamp_token(token, DIGEST, trust_root=key_material.root_cert)


def test_seal_with_remote_timestamper_validates(
    tsa_url: str, key_material: KeyMaterial, sample_pdf: bytes
) -> None:
    sealer = Sealer(key_material, timestamper=remote_timestamper(tsa_url))

    sealed = sealer.seal(sample_pdf, reason="Official communication")

    assert validate_sealed_pdf(sealed, trust_root=key_material.root_cert).ok
