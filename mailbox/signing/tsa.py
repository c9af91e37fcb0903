"""RFC 3161 time-stamping: the in-process authority, a remote one, and token verification.

The local authority signs with the TSA key from ``KeyMaterial`` (ECDSA, key parsed once) and
embeds its certificate in every token, so a token verifies offline with the root alone. pyHanko's
own ``DummyTimeStamper`` is RSA-only and re-parses its key per request, hence our own class.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from asn1crypto import algos, cms, tsp, x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper
from pyhanko.sign.timestamps.api import get_nonce
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko_certvalidator import ValidationContext

from mailbox.signing.blocking import run_blocking
from mailbox.signing.tst_der import TokenParts, assemble_token

if TYPE_CHECKING:
    from mailbox.signing.pki import KeyMaterial

__all__ = [
    "LocalTimeStamper",
    "TimestampInvalid",
    "local_timestamper",
    "offline_context",
    "remote_timestamper",
    "timestamp_token",
    "token_gen_time",
    "verify_timestamp_token",
]

# TSA policy: an OID under the UUID arc (ITU-T X.667), which needs no registration.
TSA_POLICY = "2.25.229341327735064937399614226127380640233"
_SIGNATURE_ALGORITHMS = {
    "sha256": "sha256_ecdsa",
    "sha384": "sha384_ecdsa",
    "sha512": "sha512_ecdsa",
}


class TimestampInvalid(ValueError):
    """A timestamp token that does not prove its time for the given digest."""


class LocalTimeStamper(TimeStamper):
    """A time-stamping authority in this process: grants every request, signs at once."""

    def __init__(
        self,
        tsa_cert: x509.Certificate,
        tsa_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    ) -> None:
        super().__init__(include_nonce=True)
        self.tsa_cert = tsa_cert
        self._key = tsa_key
        # asn1crypto re-encodes a parsed value placed in a new structure; values freshly loaded
        # from DER keep their encoding, which makes a token about 18 times cheaper to build.
        self._cert_der = tsa_cert.dump()
        self._issuer_der = tsa_cert.issuer.dump()
        self._subject_der = tsa_cert.subject.dump()
        self._signing_certificate_der = simple_cms_attribute(
            "signing_certificate_v2", as_signing_certificate_v2(tsa_cert)
        ).dump()
        self._parts: dict[str, TokenParts] = {}

    def token(self, message_digest: bytes, md_algorithm: str = "sha256") -> cms.ContentInfo:
        """A TimeStampToken over ``message_digest``, synchronously (no event loop needed).

        Assembled from pre-encoded DER parts (:mod:`mailbox.signing.tst_der`): the same bytes
        as :meth:`respond` would build, about ten times faster.
        """
        parts = self._parts.get(md_algorithm)
        if parts is None:
            parts = self._parts[md_algorithm] = TokenParts.build(
                policy=TSA_POLICY,
                md_algorithm=md_algorithm,
                signature_mechanism=self._mechanism(md_algorithm),
                tsa_cert_der=self._cert_der,
                signing_certificate_attribute=self._signing_certificate_der,
            )
        token = assemble_token(
            parts,
            digest=message_digest,
            serial=secrets.randbits(127),
            gen_time=datetime.now(UTC),
            nonce=get_nonce(),
            content_digest=lambda data: _digest(md_algorithm, data),
            sign=lambda data: self._sign(data, md_algorithm),
        )
        return cms.ContentInfo.load(token)

    def respond(self, request: tsp.TimeStampReq) -> tsp.TimeStampResp:
        """Grant ``request``: the TSTInfo signed by the TSA key as CMS SignedData."""
        nonce = request["nonce"].native
        token = self.assemble(
            request["message_imprint"],
            nonce=nonce,
            serial=secrets.randbits(127),
            gen_time=datetime.now(UTC),
            sign=self._sign,
        )
        return tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token})

    def assemble(
        self,
        imprint: tsp.MessageImprint,
        *,
        nonce: int | None,
        serial: int,
        gen_time: datetime,
        sign: Callable[[bytes, str], bytes],
    ) -> cms.ContentInfo:
        """The token for ``imprint`` built with asn1crypto's object model (the reference
        encoding; :meth:`token` is the fast path to the same bytes)."""
        md_algorithm = imprint["hash_algorithm"]["algorithm"].native
        tst_info = {
            "version": "v1",
            "policy": TSA_POLICY,
            "message_imprint": imprint,
            "serial_number": serial,
            "gen_time": gen_time,
            "tsa": x509.GeneralName(name="directory_name", value=x509.Name.load(self._subject_der)),
        }
        if nonce is not None:
            tst_info["nonce"] = nonce
        content = tsp.TSTInfo(tst_info).dump()
        signed_attrs = cms.CMSAttributes(
            [
                simple_cms_attribute("content_type", "tst_info"),
                simple_cms_attribute("message_digest", _digest(md_algorithm, content)),
                cms.CMSAttribute.load(self._signing_certificate_der),
            ]
        )
        signature = sign(signed_attrs.dump(), md_algorithm)
        digest_algorithm = algos.DigestAlgorithm({"algorithm": md_algorithm})
        signer_info = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    name="issuer_and_serial_number",
                    value=cms.IssuerAndSerialNumber(
                        {
                            "issuer": x509.Name.load(self._issuer_der),
                            "serial_number": self.tsa_cert.serial_number,
                        }
                    ),
                ),
                "digest_algorithm": digest_algorithm,
                "signature_algorithm": algos.SignedDigestAlgorithm(
                    {"algorithm": self._mechanism(md_algorithm)}
                ),
                "signed_attrs": signed_attrs,
                "signature": signature,
            }
        )
        signed_data = cms.SignedData(
            {
                "version": "v3",
                "digest_algorithms": [digest_algorithm],
                "encap_content_info": {
                    "content_type": "tst_info",
                    "content": cms.ParsableOctetString(content),
                },
                # The TSA certificate travels with every token; the root is the verifier's.
                "certificates": [x509.Certificate.load(self._cert_der)],
                "signer_infos": [signer_info],
            }
        )
        return cms.ContentInfo({"content_type": "signed_data", "content": signed_data})

    def _sign(self, data: bytes, md_algorithm: str) -> bytes:
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(data, ec.ECDSA(_hash(md_algorithm)))
        return self._key.sign(data, padding.PKCS1v15(), _hash(md_algorithm))

    def _mechanism(self, md_algorithm: str) -> str:
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            return _SIGNATURE_ALGORITHMS[md_algorithm]
        return "rsassa_pkcs1v15"

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        return self.respond(req)


def local_timestamper(keys: KeyMaterial) -> LocalTimeStamper:
    """The in-process TSA, signing with ``keys.tsa_key``; build it once and reuse it."""
    return LocalTimeStamper(keys.tsa_cert, keys.tsa_key)


def remote_timestamper(url: str) -> HTTPTimeStamper:
    """An RFC 3161 client for the TSA at ``url`` (HTTP POST of ``application/timestamp-query``)."""
    return HTTPTimeStamper(url, timeout=10)


def timestamp_token(timestamper: TimeStamper, digest: bytes) -> bytes:
    """A DER TimeStampToken (CMS ContentInfo) over the SHA-256 ``digest``; blocking."""
    if len(digest) != 32:
        raise ValueError(f"Expected a 32-byte SHA-256 digest, got {len(digest)} bytes")
    if isinstance(timestamper, LocalTimeStamper):
        return timestamper.token(digest).dump()
    return run_blocking(timestamper.async_timestamp(digest, "sha256")).dump()


def offline_context(trust_root: x509.Certificate) -> ValidationContext:
    """A validation context trusting only ``trust_root``, fetching nothing from the network.

    Revocation is 'soft-fail': the local PKI publishes no CRL or OCSP, so absent revocation
    information must not fail validation.
    """
    return ValidationContext(
        trust_roots=[trust_root], allow_fetching=False, revocation_mode="soft-fail"
    )


def verify_timestamp_token(
    token: bytes, digest: bytes, *, trust_root: x509.Certificate
) -> datetime:
    """Return the genTime (aware UTC) of ``token`` if it is a valid TSA signature over ``digest``
    by a TSA certificate that chains to ``trust_root``; raise ``TimestampInvalid`` otherwise."""
    try:
        content_info = cms.ContentInfo.load(token)
        if content_info["content_type"].native != "signed_data":
            raise TimestampInvalid("not a CMS SignedData")
        signed_data = content_info["content"]
        if signed_data["encap_content_info"]["content_type"].native != "tst_info":
            raise TimestampInvalid("the signed content is not a TSTInfo")
        imprint = signed_data["encap_content_info"]["content"].parsed["message_imprint"]
        if imprint["hash_algorithm"]["algorithm"].native != "sha256":
            raise TimestampInvalid("the message imprint is not a SHA-256 digest")
        if imprint["hashed_message"].native != digest:
            raise TimestampInvalid("the token's message imprint does not match the digest")
        status = run_blocking(
            validate_tst_signed_data(signed_data, offline_context(trust_root), lambda _: digest)
        )
    except TimestampInvalid:
        raise
    except (ValueError, TypeError, KeyError, SignatureValidationError) as exc:
        raise TimestampInvalid(f"unreadable timestamp token: {exc}") from exc
    if not status["intact"]:
        raise TimestampInvalid("the signed TSTInfo was altered")
    if not status["valid"]:
        raise TimestampInvalid("the TSA signature does not verify")
    if status["trust_problem_indic"] is not None or status["validation_path"] is None:
        raise TimestampInvalid(
            f"the TSA certificate does not chain to the trusted root "
            f"({status['trust_problem_indic']})"
        )
    gen_time: datetime = status["timestamp"]
    return gen_time.astimezone(UTC)


def token_gen_time(token: bytes) -> datetime:
    """The genTime ``token`` claims (aware UTC), read WITHOUT verifying it: for display next to
    the token; :func:`verify_timestamp_token` is what proves it. ``TimestampInvalid`` if the
    bytes are no TimeStampToken."""
    try:
        content = cms.ContentInfo.load(token)["content"]["encap_content_info"]["content"]
        gen_time: datetime = content.parsed["gen_time"].native
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise TimestampInvalid(f"unreadable timestamp token: {exc}") from exc
    return gen_time.astimezone(UTC)


def _digest(md_algorithm: str, data: bytes) -> bytes:
    digest = hashes.Hash(_hash(md_algorithm))
    digest.update(data)
    return digest.finalize()


def _hash(md_algorithm: str) -> hashes.HashAlgorithm:
    return {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}[
        md_algorithm
    ]()
