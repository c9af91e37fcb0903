"""Outages: an office (its dispatchers) or the service operator records a period in which the
service, or one office's part of it, did not work; the service certifies it (a JSON certificate
signed with the evidence key and timestamped by the TSA, and the same facts as a sealed PDF),
writes it into the evidence log, and gives every delivery whose period it touches the extension
its rule gives (:func:`mailbox.deliveries.legal_clock.legal_date` decides; an
``OutageExtension`` record on the delivery cites the certificate). The list is public.

:func:`record_outage` is the use case (it owns its transaction); the rest are checks and reads.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.deliveries.calendars import OutagePeriod
from mailbox.deliveries.legal_clock import deemed_moment, explain, rule_of_delivery
from mailbox.errors import FieldError, InvalidRequest, NotFound, PermissionDenied
from mailbox.evidence import log as evidence
from mailbox.evidence.log import EvidenceDraft, EvidenceType
from mailbox.identity.admin import find_office
from mailbox.identity.policy import can_manage_office, can_read_office
from mailbox.identity.principal import Principal
from mailbox.ids import new_id
from mailbox.models import Delivery, DeliveryStatus, Office, Outage
from mailbox.pagination import check_page, decode_cursor, encode_cursor
from mailbox.services import Services
from mailbox.signing.receipt import render_receipt
from mailbox.signing.records import cert_pem, verify_record
from mailbox.signing.tsa import verify_timestamp_token
from mailbox.timefmt import rfc3339

__all__ = [
    "MAX_AFFECTED",
    "MAX_LENGTH",
    "CertificateCheck",
    "certificate_digest",
    "check_outage",
    "get_outage",
    "list_outages",
    "period_of",
    "record_outage",
    "verify_certificate",
]

MAX_AFFECTED = 500  # characters of "what was affected"
MAX_LENGTH = timedelta(days=31)  # a longer outage is not one outage: certify it in parts
# How far before an outage a delivery's period may have begun and still be touched: more than
# any shipped rule's days (a longer custom N is listed in the docs as a limit).
LOOK_BACK = timedelta(days=62)
ALGORITHM = (
    "ECDSA P-256 with SHA-256 over the SHA-256 of the canonical JSON of `certificate` (sorted "
    "keys, no whitespace, UTF-8); the RFC 3161 token covers the same SHA-256"
)
PDF_TITLE = "Outage certificate"


def check_outage(starts_at: datetime, ends_at: datetime, affected: str, *, at: datetime) -> str:
    """The cleaned description, or :class:`InvalidRequest` naming every bad field: the period
    must end after it starts, be over by ``at`` (an outage is certified once it happened) and
    last at most :data:`MAX_LENGTH`; ``affected`` is 1 to :data:`MAX_AFFECTED` characters."""
    errors = []
    text = affected.strip()
    if not text or len(text) > MAX_AFFECTED:
        errors.append(FieldError("affected", f"1-{MAX_AFFECTED} characters"))
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        errors.append(FieldError("from", "a time with its offset (RFC 3339)"))
    elif ends_at <= starts_at:
        errors.append(FieldError("to", "after from"))
    elif ends_at > at:
        errors.append(FieldError("to", "not in the future: an outage is certified once over"))
    elif ends_at - starts_at > MAX_LENGTH:
        errors.append(FieldError("to", f"at most {MAX_LENGTH.days} days after from"))
    if errors:
        raise InvalidRequest("The outage cannot be certified as given", errors=errors)
    return text


def period_of(outage: Outage, office_code: str | None) -> OutagePeriod:
    """The outage as the legal clock reads it."""
    return OutagePeriod(
        id=outage.id,
        starts_at=outage.starts_at,
        ends_at=outage.ends_at,
        certificate_sha256=outage.certificate_sha256,
        scope=office_code or "service",
    )


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def certificate_digest(document: dict[str, Any]) -> bytes:
    """The SHA-256 the certificate's signature and timestamp token cover."""
    return hashlib.sha256(_canonical(document["certificate"])).digest()


async def _certify(
    services: Services, outage: Outage, office: Office | None
) -> tuple[bytes, str, bytes]:
    """The signed JSON certificate, its SHA-256 (hex) and the sealed PDF."""
    body = {
        "type": "OutageCertificate",
        "id": outage.id,
        "scope": "office" if office else "service",
        "office": office.code if office else None,
        "from": rfc3339(outage.starts_at),
        "to": rfc3339(outage.ends_at),
        "affected": outage.affected,
        "recorded_at": rfc3339(outage.recorded_at),
        "recorded_by": outage.recorded_by,
        "issuer": services.settings.public_base_url,
    }
    digest = hashlib.sha256(_canonical(body)).hexdigest()
    signature, token = await services.evidence.sign(digest)
    document = {
        "certificate": body,
        "sha256": digest,
        "algorithm": ALGORITHM,
        "signature": base64.b64encode(signature).decode(),
        "timestamp_token": base64.b64encode(token).decode(),
        "signer_certificate": cert_pem(services.keys.evidence_cert),
    }
    rows = [
        ("Outage", outage.id),
        ("Affected", "the whole service" if office is None else f"office {office.code}"),
        ("From (UTC)", body["from"]),
        ("To (UTC)", body["to"]),
        ("What was affected", outage.affected),
        ("Recorded by", outage.recorded_by),
        ("SHA-256 of the JSON certificate", digest),
    ]
    pdf = await asyncio.to_thread(
        render_receipt,
        PDF_TITLE,
        rows,
        [(body["recorded_at"], EvidenceType.OUTAGE_CERTIFIED.value, outage.recorded_by)],
    )
    sealed = await services.sealing.seal(
        pdf, reason=f"Outage certificate {outage.id}", location=services.settings.public_base_url
    )
    return json.dumps(document, indent=2).encode(), digest, sealed


async def record_outage(
    services: Services,
    *,
    starts_at: datetime,
    ends_at: datetime,
    affected: str,
    office: str | None,
    actor: str,
    principal: Principal | None = None,
) -> Outage:
    """Certify an outage of ``office`` (its id or code; ``None``: the whole service) and
    apply it to the deliveries it touches, in one transaction. ``principal`` is who asks
    through the API (a dispatcher of that office); ``None`` is the operator at the command
    line. Bad input is refused before anything is signed."""
    text = check_outage(starts_at, ends_at, affected, at=now())
    if principal is not None and office is None:
        raise InvalidRequest(
            "Only the operator certifies a service-wide outage; name your office",
            errors=[FieldError("office_id", "required")],
        )
    async with services.db.session() as session:
        found = await find_office(session=session, office=office) if office else None
    if principal is not None and found is not None:
        if not can_read_office(principal, found.id):
            raise NotFound(f"No office {office}")
        if not can_manage_office(principal, found.id):
            raise PermissionDenied(f"Only a dispatcher of office {found.code} records outages")
    outage = Outage(
        id=new_id("out"),
        office_id=found.id if found else None,
        starts_at=starts_at,
        ends_at=ends_at,
        affected=text,
        recorded_by=actor[:200],
        recorded_at=now(),
        certificate_sha256="",
        certificate=b"",
        certificate_pdf=b"",
    )
    outage.certificate, outage.certificate_sha256, outage.certificate_pdf = await _certify(
        services, outage, found
    )
    period = period_of(outage, found.code if found else None)
    async with services.db.write() as session:
        session.add(outage)
        await session.flush()
        entries = [
            evidence.EvidenceEntry(
                EvidenceDraft(
                    EvidenceType.OUTAGE_CERTIFIED,
                    outage.recorded_by,
                    details={"outage": period.as_json(), "affected": text},
                ),
                None,
                at=outage.recorded_at,
            )
        ]
        entries += await _extend(session, outage, period, at=outage.recorded_at)
        outage.deliveries_touched = len(entries) - 1
        session.add(outage)
        await evidence.append_entries(session, services.evidence, entries)
    return outage


async def _extend(
    session: AsyncSession, outage: Outage, period: OutagePeriod, *, at: datetime
) -> list[evidence.EvidenceEntry]:
    """Add the outage to each delivery whose period it touches (the legal clock says which:
    its reasoning lists the outage), move a pending deemed delivery accordingly, and return
    the ``OutageExtension`` records to write. Deliveries picked up before the outage began
    are settled by their pickup and left alone."""
    query = (
        select(Delivery)
        .where(col(Delivery.available_at).is_not(None) | col(Delivery.paper_posted_at).is_not(None))
        .where(
            or_(
                col(Delivery.available_at) <= outage.ends_at,
                col(Delivery.paper_posted_at) <= outage.ends_at,
            )
        )
        .where(
            or_(
                col(Delivery.available_at) >= outage.starts_at - LOOK_BACK,
                col(Delivery.paper_posted_at) >= outage.starts_at - LOOK_BACK,
            )
        )
        .where(
            or_(
                col(Delivery.picked_up_at).is_(None),
                col(Delivery.picked_up_at) >= outage.starts_at,
            )
        )
        .order_by(col(Delivery.id))
    )
    if outage.office_id is not None:
        query = query.where(Delivery.office_id == outage.office_id)
    entries = []
    for delivery in (await session.exec(query)).all():
        before = explain(delivery, at=at)
        delivery.clock_outages = [*(delivery.clock_outages or ()), period.as_json()]
        after = explain(delivery, at=at)
        listed = after.reasoning.get("outages", ())
        applied = next((o for o in listed if o["id"] == outage.id), None)
        if applied is None:  # its rule gives no extension, or its period is elsewhere
            delivery.clock_outages = delivery.clock_outages[:-1] or None
            continue
        rule = rule_of_delivery(delivery)
        if delivery.status == DeliveryStatus.AVAILABLE and delivery.available_at is not None:
            delivery.deemed_due_at = deemed_moment(rule, delivery.available_at, after.shifted_days)
        session.add(delivery)
        details = {
            "outage_id": outage.id,
            "certificate_sha256": outage.certificate_sha256,
            "extended_to": applied["extended_to"],
            "before": before.sentence,
            "legal_date": after.evidence(),
        }
        entries.append(
            evidence.EvidenceEntry(
                EvidenceDraft(EvidenceType.OUTAGE_EXTENSION, "service", details=details),
                delivery.id,
                at=at,
            )
        )
    return entries


async def get_outage(*, session: AsyncSession, outage_id: str) -> Outage:
    """The outage ``outage_id``; :class:`NotFound` if none."""
    found = await session.get(Outage, outage_id)
    if found is None:
        raise NotFound(f"No outage {outage_id}")
    return found


async def list_outages(
    *, session: AsyncSession, limit: int = 50, cursor: str | None = None
) -> tuple[list[tuple[Outage, str | None]], str | None]:
    """Certified outages, newest first, keyset-paginated, each with its office's code
    (``None``: the whole service), and the cursor of the next page."""
    check_page(limit, cursor)
    query = select(Outage, Office.code).outerjoin(Office, col(Office.id) == Outage.office_id)
    if cursor:
        at, row_id = decode_cursor(cursor)
        query = query.where(
            or_(
                col(Outage.starts_at) < at,
                (col(Outage.starts_at) == at) & (col(Outage.id) < row_id),
            )
        )
    rows = (
        await session.exec(
            query.order_by(col(Outage.starts_at).desc(), col(Outage.id).desc()).limit(limit + 1)
        )
    ).all()
    page = [(outage, code) for outage, code in rows[:limit]]
    more = len(rows) > limit
    next_cursor = encode_cursor(page[-1][0].starts_at, page[-1][0].id) if more else None
    return page, next_cursor


@dataclass(frozen=True)
class CertificateCheck:
    """What :func:`verify_certificate` found."""

    sha256_matches: bool
    signer_trusted: bool
    signature_valid: bool
    timestamp_valid: bool

    @property
    def valid(self) -> bool:
        return (
            self.sha256_matches
            and self.signer_trusted
            and self.signature_valid
            and self.timestamp_valid
        )

    def as_dict(self) -> dict[str, bool]:
        return {
            "valid": self.valid,
            "sha256_matches": self.sha256_matches,
            "signer_trusted": self.signer_trusted,
            "signature_valid": self.signature_valid,
            "timestamp_valid": self.timestamp_valid,
        }


def verify_certificate(
    document: dict[str, Any], *, trust_root: Any, evidence_cert: Any | None = None
) -> CertificateCheck:
    """Check a JSON outage certificate offline against the service's root certificate: its
    SHA-256, the signer (``evidence_cert``, else the certificate it carries, which must be
    issued by ``trust_root``), the signature and the RFC 3161 token over that SHA-256.
    ``ValueError`` if ``document`` is not an outage certificate at all."""
    try:
        digest = certificate_digest(document)
        signature = base64.b64decode(document["signature"], validate=True)
        token = base64.b64decode(document["timestamp_token"], validate=True)
        claimed = str(document["sha256"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not an outage certificate: {exc!r}") from None
    trusted = True
    if evidence_cert is None:
        try:
            evidence_cert = x509.load_pem_x509_certificate(
                str(document["signer_certificate"]).encode()
            )
            evidence_cert.verify_directly_issued_by(_crypto_cert(trust_root))
        except (KeyError, ValueError, TypeError, InvalidSignature):
            trusted, evidence_cert = False, None
    try:
        verify_timestamp_token(token, digest, trust_root=trust_root)
        stamped = True
    except ValueError:
        stamped = False
    return CertificateCheck(
        sha256_matches=digest.hex() == claimed,
        signer_trusted=trusted,
        signature_valid=evidence_cert is not None
        and verify_record(evidence_cert, digest, signature),
        timestamp_valid=stamped,
    )


def _crypto_cert(cert: Any) -> x509.Certificate:
    if isinstance(cert, x509.Certificate):
        return cert
    return x509.load_der_x509_certificate(cert.dump())
