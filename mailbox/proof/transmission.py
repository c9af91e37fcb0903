"""The proof of a transmission: one ZIP covering every hop, for an auditor to verify offline
with the service's root certificate alone (:mod:`mailbox.proof.check_transmission`).

It holds ``transmission.json`` (the status end to end, the route, the package's SHA-256 and
the SHA-256 of each hop's bundle), and ``hops/<n>.zip``: the proof-of-delivery bundle of each
hop's delivery (:func:`mailbox.proof.bundle.build_bundle`), which proves by hash what every
hop delivered, and that the hub received it (ReceiptAcknowledgement).

Whoever sees a transmission sees the evidence of all its hops, so each hop's bundle is built
as the auditor of the office that sent that hop would build it: by hash only, holding no
content and recording no access. The package itself (``package.json`` and its detached seal
``package.json.p7s``) is in the proof only for a principal who may pick up a hop of it, and
that download is then recorded on the principal's hop (via ``transmission proof``), like any
other: no content leaves without a recorded access.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import zipfile
from io import BytesIO

from mailbox.clock import now
from mailbox.deliveries.pickup import record_handover
from mailbox.identity.principal import Principal
from mailbox.models import Role
from mailbox.proof.bundle import build_bundle
from mailbox.proof.check_transmission import (
    PACKAGE,
    PACKAGE_SEAL,
    TRANSMISSION,
    TRANSMISSION_PROOF_FORMAT,
    hop_bundle_name,
)
from mailbox.services import Services
from mailbox.timefmt import rfc3339
from mailbox.transmissions.documents import pickup_hop
from mailbox.transmissions.status import HopView, read_transmission, status_json

__all__ = ["build_transmission_bundle"]

VIA = "transmission proof"


def _hop_auditor(principal: Principal, hop: HopView) -> Principal:
    """Who a hop's bundle is built as: the auditor of the office that sent the hop (it reads
    the hop's evidence and proves the package by hash, never holding it)."""
    return Principal(
        user_id=principal.user_id,
        email=principal.email,
        display_name=principal.display_name,
        kind=principal.kind,
        office_roles={hop.delivery.office_id: frozenset({Role.AUDITOR.value})},
    )


async def build_transmission_bundle(
    services: Services, principal: Principal, transmission_id: str, *, ip: str | None = None
) -> bytes:
    """The transmission's proof ZIP, for a principal who sees the transmission
    (:class:`~mailbox.errors.NotFound` for anyone else). Holding the package records its
    download on the principal's hop, once the ZIP is built."""
    async with services.db.session() as session:
        view = await read_transmission(
            session=session, principal=principal, transmission_id=transmission_id
        )
    hops = {}
    for hop in view.hops:
        bundle = await build_bundle(services, _hop_auditor(principal, hop), hop.delivery.id)
        hops[hop.hop.number] = bundle.content
    holder = pickup_hop(principal, view)
    package = seal = None
    if holder is not None:
        package = await asyncio.to_thread(services.blobs.get, view.package.sealed_sha256)
        if view.package.seal_sha256:
            seal = await asyncio.to_thread(services.blobs.get, view.package.seal_sha256)
    summary = {
        "format": TRANSMISSION_PROOF_FORMAT,
        "generated_at": rfc3339(now()),
        "transmission_id": view.transmission.id,
        "route": list(view.transmission.route),
        "package_sha256": view.package.sealed_sha256,
        "package_included": package is not None,
        "hops": [
            {
                "number": number,
                "delivery_id": view.hop(number).delivery.id,  # type: ignore[union-attr]
                "bundle": hop_bundle_name(number),
                "bundle_sha256": hashlib.sha256(content).hexdigest(),
            }
            for number, content in hops.items()
        ],
        "status": status_json(view),
    }
    parts = {TRANSMISSION: json.dumps(summary, indent=2, ensure_ascii=False).encode()}
    if package is not None:
        parts[PACKAGE] = package
        if seal is not None:
            parts[PACKAGE_SEAL] = seal
    parts.update({hop_bundle_name(number): content for number, content in hops.items()})
    content = await asyncio.to_thread(_zip, parts)
    if holder is not None:
        # Last, once the proof exists: a proof that failed to build handed nothing over.
        await record_handover(services, principal, holder.delivery.id, view.package, ip=ip, via=VIA)
    return content


def _zip(parts: dict[str, bytes]) -> bytes:
    stamp = now().timetuple()[:6]
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, content)
    return buffer.getvalue()
