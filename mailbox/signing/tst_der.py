"""The local TSA's fast path: an RFC 3161 TimeStampToken assembled from pre-encoded DER parts.

Every evidence record carries a token. Built through asn1crypto's object model a token costs
about 0.6 ms, nearly all of it asn1crypto encoding structures whose content never changes
(policy, TSA name, certificate, signer identifier, algorithms). Here those parts are encoded
once per TSA; per token only the imprint, serial number, time and nonce are encoded, the
signed attributes are signed, and the structures are joined with their tags and lengths.

The bytes are exactly those of the asn1crypto path for the same inputs (a unit test holds the
two side by side), so a token from either verifies the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import algos, cms, core, x509

__all__ = ["TokenParts", "assemble_token", "der"]

_SEQUENCE, _SET, _OCTET_STRING, _CONTEXT_0 = 0x30, 0x31, 0x04, 0xA0
_VERSION_1 = b"\x02\x01\x01"  # INTEGER 1: TSTInfo v1, SignerInfo v1
_VERSION_3 = b"\x02\x01\x03"  # INTEGER 3: SignedData v3 (the content is not id-data)


def der(tag: int, content: bytes) -> bytes:
    """One DER TLV: ``tag``, the definite length of ``content``, ``content``."""
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + content


@dataclass(frozen=True)
class TokenParts:
    """The DER parts that are the same in every token of one TSA and digest algorithm."""

    policy: bytes  # the policy OID
    digest_algorithm: bytes  # AlgorithmIdentifier of the imprint and of the signer
    tsa_name: bytes  # [0] EXPLICIT GeneralName of the TSA
    content_type_attribute: bytes  # signed attribute: content type is TSTInfo
    signing_certificate_attribute: bytes  # signed attribute: ESS signing-certificate-v2
    signer_identifier: bytes  # IssuerAndSerialNumber of the TSA certificate
    signature_algorithm: bytes
    certificate: bytes

    @classmethod
    def build(
        cls,
        *,
        policy: str,
        md_algorithm: str,
        signature_mechanism: str,
        tsa_cert_der: bytes,
        signing_certificate_attribute: bytes,
    ) -> TokenParts:
        """Encode the constant parts once, with asn1crypto, as the slow path does."""
        certificate = x509.Certificate.load(tsa_cert_der)
        name = x509.GeneralName(
            name="directory_name", value=x509.Name.load(certificate.subject.dump())
        )
        return cls(
            policy=core.ObjectIdentifier(policy).dump(),
            digest_algorithm=algos.DigestAlgorithm({"algorithm": md_algorithm}).dump(),
            tsa_name=der(_CONTEXT_0, name.dump()),
            content_type_attribute=cms.CMSAttribute(
                {"type": "content_type", "values": ["tst_info"]}
            ).dump(),
            signing_certificate_attribute=signing_certificate_attribute,
            signer_identifier=cms.IssuerAndSerialNumber(
                {"issuer": certificate.issuer, "serial_number": certificate.serial_number}
            ).dump(),
            signature_algorithm=algos.SignedDigestAlgorithm(
                {"algorithm": signature_mechanism}
            ).dump(),
            certificate=tsa_cert_der,
        )


_MESSAGE_DIGEST = cms.CMSAttributeType("message_digest").dump()
_TST_INFO = cms.ContentType("tst_info").dump()
_SIGNED_DATA = cms.ContentType("signed_data").dump()


def assemble_token(
    parts: TokenParts,
    *,
    digest: bytes,
    serial: int,
    gen_time: datetime,
    nonce: int | None,
    content_digest: Callable[[bytes], bytes],
    sign: Callable[[bytes], bytes],
) -> bytes:
    """The DER TimeStampToken (CMS ContentInfo) over ``digest``.

    ``content_digest`` hashes the TSTInfo with the token's digest algorithm; ``sign`` signs
    the DER of the signed attributes with the TSA key.
    """
    imprint = der(_SEQUENCE, parts.digest_algorithm + der(_OCTET_STRING, digest))
    tst_info = der(
        _SEQUENCE,
        _VERSION_1
        + parts.policy
        + imprint
        + core.Integer(serial).dump()
        + core.GeneralizedTime(gen_time).dump()
        + (core.Integer(nonce).dump() if nonce is not None else b"")
        + parts.tsa_name,
    )
    message_digest = der(
        _SEQUENCE,
        _MESSAGE_DIGEST + der(_SET, der(_OCTET_STRING, content_digest(tst_info))),
    )
    attributes = parts.content_type_attribute + message_digest + parts.signing_certificate_attribute
    signature = sign(der(_SET, attributes))
    signer_info = der(
        _SEQUENCE,
        _VERSION_1
        + parts.signer_identifier
        + parts.digest_algorithm
        + der(_CONTEXT_0, attributes)
        + parts.signature_algorithm
        + der(_OCTET_STRING, signature),
    )
    signed_data = der(
        _SEQUENCE,
        _VERSION_3
        + der(_SET, parts.digest_algorithm)
        + der(_SEQUENCE, _TST_INFO + der(_CONTEXT_0, der(_OCTET_STRING, tst_info)))
        + der(_CONTEXT_0, parts.certificate)
        + der(_SET, signer_info),
    )
    return der(_SEQUENCE, _SIGNED_DATA + der(_CONTEXT_0, signed_data))
