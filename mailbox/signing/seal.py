"""The office seal: inspect an incoming PDF, seal it (PAdES B-T), and validate a sealed PDF.

A seal is an approval signature by the seal key in an incremental update, so any signature the
office already applied stays valid. The RFC 3161 token of the signature time is embedded in the
CMS. Validation is offline against one root and reports each property separately so that callers
(and auditors) see *what* failed.

Incoming PDFs are hostile until read: whatever reading, checking or sealing one raises is a
``PdfRejected`` with a bounded message, except the failures that are ours (``OSError``: a TSA
that cannot be reached, a disk). ``seal_document`` is what a dispatch uses: it also refuses
existing signatures that cannot be read (the sealed file would fail validation later) and
scans for active content under the office's policy.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any, Literal

from asn1crypto import keys as asn1_keys
from asn1crypto import x509
from cryptography import x509 as crypto_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter, enumerate_sig_fields
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, SimpleSigner
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import (
    async_validate_pdf_signature,
    read_certification_data,
)
from pyhanko_certvalidator.registry import SimpleCertificateStore

from mailbox.signing.active_content import (
    ActiveContentPolicy,
    ActiveContentReport,
    scan_active_content,
)
from mailbox.signing.blocking import run_blocking
from mailbox.signing.object_streams import inflate_object_streams
from mailbox.signing.pki import KeyMaterial
from mailbox.signing.tsa import LocalTimeStamper, local_timestamper, offline_context

__all__ = [
    "PdfInfo",
    "PdfRejected",
    "SealValidation",
    "SealedDocument",
    "Sealer",
    "inspect_pdf",
    "load_pkcs12_signer",
    "validate_sealed_pdf",
]

RejectReason = Literal[
    "not_pdf", "encrypted", "malformed", "empty", "locked", "unsigned", "active_content"
]
SEAL_FIELD = "OfficialSeal"
# Room for the CMS signature container, in hex digits (two per DER byte). Measured: ECDSA seal
# with seal + root certificates and a local TSA token is about 2.7 kB DER, i.e. 5.4 kB of hex.
# Reserving a fixed size spares pyHanko a dry-run signature to estimate it.
RESERVED_LOCAL_TSA = 12 * 1024
# An external TSA may embed a longer RSA chain in its token.
RESERVED_REMOTE_TSA = 32 * 1024
# A PDF header may follow some junk; readers accept it within the first kilobyte.
HEADER_WINDOW = 1024
# Failures that are ours, not the document's, while sealing: a TSA that cannot be reached
# (pyHanko's TimestampRequestError and requests' errors are OSErrors), a disk.
_OURS: tuple[type[BaseException], ...] = (OSError, MemoryError)
# Longest parser message repeated in a problem or a log line.
_DETAIL_MAX = 300


class PdfRejected(ValueError):
    """The bytes are not a PDF we can seal or validate; ``reason`` says why, in one word.
    ``active_content`` is the scan that refused it, when that was the reason."""

    def __init__(
        self,
        reason: RejectReason,
        message: str,
        active_content: ActiveContentReport | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.active_content = active_content

    def __reduce__(self) -> tuple[Any, ...]:
        # Keeps ``reason`` and the scan across a process pool boundary.
        return (type(self), (self.reason, str(self), self.active_content))


@dataclass(frozen=True)
class PdfInfo:
    """What inspection learnt about an acceptable PDF."""

    page_count: int


@dataclass(frozen=True)
class SealedDocument:
    """A dispatched PDF, sealed, and the active content it carries (allowed by the policy)."""

    pdf: bytes
    active_content: ActiveContentReport


@dataclass(frozen=True)
class SealValidation:
    """The outcome of validating a PDF's last signature; ``ok`` only if every check passed.

    ``intact``: the signed bytes hash to the signed digest. ``valid``: the signature verifies
    for this file (intact and a correct signature by the certificate's key). ``trusted``: the
    signer's certificate chains to the given root. ``signed_at``: the embedded timestamp's
    genTime; ``timestamp_valid``: that token is intact, valid and chains to the root too.
    """

    intact: bool
    valid: bool
    trusted: bool
    signer: str
    signed_at: datetime | None
    timestamp_valid: bool
    coverage: str

    @property
    def ok(self) -> bool:
        return (
            self.intact
            and self.valid
            and self.trusted
            and self.signed_at is not None
            and self.timestamp_valid
            and self.coverage == "ENTIRE_FILE"
        )


def inspect_pdf(data: bytes) -> PdfInfo:
    """Accept ``data`` as a readable, unencrypted PDF with pages, or raise ``PdfRejected``."""
    return _inspect(_open_reader(data))


class Sealer:
    """Seals PDFs with the office seal key; build once per process and reuse."""

    def __init__(
        self,
        keys: KeyMaterial,
        *,
        timestamper: TimeStamper | None = None,
        signer: SimpleSigner | None = None,
    ) -> None:
        """``signer`` replaces the seal key of ``keys`` (e.g. from ``load_pkcs12_signer``)."""
        self._timestamper = timestamper or local_timestamper(keys)
        self._bytes_reserved = (
            RESERVED_LOCAL_TSA
            if isinstance(self._timestamper, LocalTimeStamper) and signer is None
            else RESERVED_REMOTE_TSA
        )
        self._signer = signer or SimpleSigner(
            signing_cert=keys.seal_cert,
            signing_key=_private_key_info(keys.seal_key),
            cert_registry=SimpleCertificateStore.from_certs([keys.root_cert]),
        )

    def seal_data(self, data: bytes) -> bytes:
        """A detached, timestamped CMS seal over ``data`` (a data document's canonical JSON);
        see :mod:`mailbox.signing.detached`. Blocking and CPU-bound."""
        from mailbox.signing.detached import seal_detached

        return seal_detached(data, signer=self._signer, timestamper=self._timestamper)

    def seal(self, data: bytes, *, reason: str, location: str | None = None) -> bytes:
        """Return ``data`` with a timestamped PAdES seal appended; ``PdfRejected`` if unusable.

        Blocking and CPU-bound: run it in a worker thread or process.
        """
        writer = _open_writer(data)
        _inspect(writer.prev)
        return self._sign(writer, reason=reason, location=location)

    def seal_document(
        self,
        data: bytes,
        *,
        reason: str,
        location: str | None = None,
        active_content: ActiveContentPolicy = "reject",
    ) -> SealedDocument:
        """Seal a dispatched PDF: as :meth:`seal`, after refusing (``PdfRejected``) one whose
        existing signatures cannot be read, and one with active content unless the policy is
        ``allow``; what was found (and allowed) comes back with the sealed bytes.

        Blocking and CPU-bound: run it in a worker thread or process.
        """
        if active_content not in ("reject", "allow"):
            raise ValueError(f"Unknown active content policy {active_content!r}")
        writer = _open_writer(data)
        reader = writer.prev
        with _malformed_unless_readable("The PDF could not be read"):
            # First: the parser would inflate a decompression bomb whole on the first object
            # it reads from it, the page tree included.
            object_streams = inflate_object_streams(reader)
        _inspect(reader)
        _check_signatures(reader)
        with _malformed_unless_readable("The PDF could not be read"):
            found = scan_active_content(reader, data, object_streams)
        if active_content == "reject" and (found or not found.complete):
            raise PdfRejected("active_content", _refusal(found), found)
        return SealedDocument(self._sign(writer, reason=reason, location=location), found)

    def _sign(
        self, writer: IncrementalPdfFileWriter, *, reason: str, location: str | None
    ) -> bytes:
        reader = writer.prev
        # pyHanko trusts the structure it signs into (the form, the first page's annotations,
        # the permissions): on a hostile file it fails with any error at all. Only our own
        # failures (a TSA that cannot be reached) are not the document's.
        with _malformed_unless_readable("The PDF could not be sealed", ours=_OURS):
            certification = read_certification_data(reader)
            if certification is not None and certification.permission == MDPPerm.NO_CHANGES:
                raise PdfRejected(
                    "locked", "The PDF is certified with no changes allowed, so it cannot be sealed"
                )
            meta = PdfSignatureMetadata(
                field_name=_free_field_name(reader),
                reason=reason,
                location=location,
                subfilter=SigSeedSubFilter.PADES,
                md_algorithm="sha256",
            )
            pdf_signer = PdfSigner(meta, self._signer, timestamper=self._timestamper)
            output = run_blocking(
                pdf_signer.async_sign_pdf(writer, bytes_reserved=self._bytes_reserved)
            )
        return output.getvalue()


def load_pkcs12_signer(path: Path, passphrase: bytes | None = None) -> SimpleSigner:
    """A seal signer from a PKCS#12 file (key, certificate and chain), as deployments issue."""
    key, cert, chain = pkcs12.load_key_and_certificates(path.read_bytes(), passphrase)
    if key is None or cert is None:
        raise ValueError(f"{path} holds no private key with its certificate")
    return SimpleSigner(
        signing_cert=_asn1_cert(cert),
        signing_key=_private_key_info(key),
        cert_registry=SimpleCertificateStore.from_certs([_asn1_cert(c) for c in chain]),
    )


def validate_sealed_pdf(data: bytes, *, trust_root: x509.Certificate) -> SealValidation:
    """Validate the last signature of ``data`` offline against ``trust_root`` alone.

    Raises ``PdfRejected`` if ``data`` is no readable PDF or its seal cannot be read, or with
    reason ``unsigned`` if it carries no signature.
    """
    reader = _open_reader(data)
    with _malformed_unless_readable("The signed PDF could not be read"):
        signatures = reader.embedded_regular_signatures
    if not signatures:
        raise PdfRejected("unsigned", "The PDF carries no signature")
    context = offline_context(trust_root)
    # Validation is offline: nothing it raises is ours, everything means "no readable seal"
    # (a flipped byte in /Contents, a hostile signature dictionary).
    with _malformed_unless_readable("The seal could not be read", ours=(MemoryError,)):
        status = run_blocking(
            async_validate_pdf_signature(signatures[-1], context, ts_validation_context=context)
        )
    stamp = status.timestamp_validity
    timestamp_valid = bool(stamp and stamp.intact and stamp.valid and stamp.trusted)
    return SealValidation(
        intact=status.intact,
        # pyHanko's ``valid`` covers the signed attributes only; a changed document leaves it
        # True, which would read as "valid seal" to an auditor.
        valid=status.valid and status.intact,
        trusted=status.trusted,
        signer=status.signing_cert.subject.native.get("common_name", ""),
        signed_at=stamp.timestamp.astimezone(UTC) if stamp else None,
        timestamp_valid=timestamp_valid,
        coverage=status.coverage.name if status.coverage else "UNCLEAR",
    )


def _private_key_info(key: PrivateKeyTypes) -> asn1_keys.PrivateKeyInfo:
    return asn1_keys.PrivateKeyInfo.load(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _asn1_cert(cert: crypto_x509.Certificate) -> x509.Certificate:
    return x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _check_header(data: bytes) -> None:
    if not data:
        raise PdfRejected("empty", "The file is empty")
    if b"%PDF-" not in data[:HEADER_WINDOW]:
        raise PdfRejected("not_pdf", "The file is not a PDF (no %PDF- header)")


@contextmanager
def _malformed_unless_readable(
    what: str, *, ours: tuple[type[BaseException], ...] = (MemoryError,)
) -> Iterator[None]:
    """Turn whatever reading hostile bytes raises into ``PdfRejected("malformed")`` with a
    bounded one-line message: deep nesting (``RecursionError``) included; our own refusals and
    the failures that are ``ours`` go through untouched."""
    try:
        yield
    except PdfRejected:
        raise
    except RecursionError:
        raise PdfRejected("malformed", f"{what}: its objects are nested too deeply") from None
    except ours:
        raise
    except Exception as exc:
        raise PdfRejected("malformed", f"{what}: {_describe(exc)}") from None


def _describe(exc: Exception) -> str:
    """The parser's complaint on one line of at most ``_DETAIL_MAX`` characters. pyHanko's own
    errors say what is wrong; anything else is a structure it did not expect."""
    detail = " ".join(str(exc).split())
    if not isinstance(exc, PdfError | SignatureValidationError):
        detail = f"its structure is invalid ({type(exc).__name__}{': ' if detail else ''}{detail})"
    if len(detail) > _DETAIL_MAX:
        detail = detail[:_DETAIL_MAX] + "…"
    return detail


def _check_signatures(reader: PdfFileReader) -> None:
    """Refuse a PDF whose existing signatures cannot be read: sealed, it would fail every
    later validation (and an auditor's check) on the earlier signature, not on ours."""
    with _malformed_unless_readable("An existing signature in the PDF cannot be read"):
        for signature in reader.embedded_signatures:
            byte_range = signature.byte_range
            if len(byte_range) != 4 or not all(isinstance(n, int) and n >= 0 for n in byte_range):
                raise ValueError(f"its /ByteRange {list(byte_range)[:8]} is not four offsets")
            signature.signed_data.native  # noqa: B018 (asn1crypto parses lazily: force it)
            signature.signer_info["signature"].native  # noqa: B018


def _refusal(found: ActiveContentReport) -> str:
    if not found.complete and not found:
        what = "The PDF is too large or too deeply nested to be checked for active content"
    else:
        what = found.summary()
        what = what[0].upper() + what[1:]
        if not found.complete:
            what += ", and it is too large or too deeply nested to be checked completely"
    return (
        f"{what}; this office does not accept active content (JavaScript, launch actions, "
        "embedded files, rich media, XFA, form submission)"
    )


def _open_reader(data: bytes) -> PdfFileReader:
    _check_header(data)
    with _malformed_unless_readable("The PDF could not be read"):
        # BytesIO over bytes shares the buffer until written to: no copy of a 10 MB upload.
        return PdfFileReader(BytesIO(data), strict=False)


def _open_writer(data: bytes) -> IncrementalPdfFileWriter:
    _check_header(data)
    with _malformed_unless_readable("The PDF could not be read"):
        return IncrementalPdfFileWriter(BytesIO(data), strict=False)


def _inspect(reader: PdfFileReader) -> PdfInfo:
    with _malformed_unless_readable("The PDF could not be read"):
        encrypted = reader.encrypted
    if encrypted:
        raise PdfRejected("encrypted", "The PDF is encrypted; send it without a password")
    with _malformed_unless_readable("The PDF has no readable page tree"):
        page_count = int(reader.root["/Pages"]["/Count"])
    if page_count < 1:
        raise PdfRejected("empty", "The PDF has no pages")
    return PdfInfo(page_count=page_count)


def _free_field_name(reader: PdfFileReader) -> str:
    """``OfficialSeal``, or ``OfficialSeal2``... if a seal was applied before (re-sealing)."""
    taken = {name for name, _value, _ref in enumerate_sig_fields(reader)}
    name, n = SEAL_FIELD, 1
    while name in taken:
        n += 1
        name = f"{SEAL_FIELD}{n}"
    return name
