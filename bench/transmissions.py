"""End-to-end time of a routed transmission: an office sends a 3-document package (two PDFs and
a JSON search report) through a hub whose rule is automatic, until the final recipient's pickup
of the package is recorded.

Run from the repository root:  python bench/transmissions.py [--count 100]

One process against SQLite, in a throw-away install (local keys, sealing in this process,
alerts written to a pickup folder). Each round is what the service does for one transmission:
the sender's use case (check, seal three documents and the package, one transaction), one
outbox drain as the scheduler runs it (the hub's receipt: pickup, ReceiptAcknowledgement,
forward; and the alerts of both hops), and the final recipient's download of the package (the
legal pickup of the last hop). Prints one JSON object: median, p90, min and max in
milliseconds over ``--count`` rounds, after one warm-up round.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # our `mailbox`, not the standard-library module
if "mailbox" in sys.modules and not hasattr(sys.modules["mailbox"], "__path__"):
    del sys.modules["mailbox"]

from mailbox.config import Settings  # noqa: E402
from mailbox.db import run_migrations  # noqa: E402
from mailbox.deliveries.pickup import pick_up  # noqa: E402
from mailbox.identity.admin import (  # noqa: E402
    create_office,
    create_user,
    grant_role,
    open_office_mailbox,
)
from mailbox.identity.principal import load_principal  # noqa: E402
from mailbox.models import Role  # noqa: E402
from mailbox.notifications.outbox import drain_until_idle  # noqa: E402
from mailbox.operations.demo import demo_pdf  # noqa: E402
from mailbox.services import Services  # noqa: E402
from mailbox.signing.pki import create_local_pki  # noqa: E402
from mailbox.storage.blobs import create_master_key  # noqa: E402
from mailbox.transmissions.send import send_transmission  # noqa: E402
from mailbox.transmissions.status import load_view  # noqa: E402


def _package(n: int) -> tuple[bytes, dict[str, bytes]]:
    """A distinct 3-document package for round ``n`` (a comment after a PDF's end changes its
    hash), from SENDER to FINAL."""
    files = {
        "description.pdf": demo_pdf("Description") + f"\n% round {n}\n".encode(),
        "claims.pdf": demo_pdf("Claims") + f"\n% round {n}\n".encode(),
        "search-report.json": json.dumps({"round": n, "citations": ["D1", "D2"]}).encode(),
    }
    roles = {"description.pdf": "description", "claims.pdf": "claims"}
    manifest = {
        "format": "mailbox-transmission/1",
        "international_application_number": f"PCT/EP2026/{n:06d}",
        "kind": "search-copy",
        "sender": "SENDER",
        "final_recipient": "FINAL",
        "documents": [
            {
                "file": name,
                "role": roles.get(name, "search-report"),
                "media_type": "application/json" if name.endswith(".json") else "application/pdf",
                "sha256": hashlib.sha256(content).hexdigest(),
            }
            for name, content in files.items()
        ],
    }
    return json.dumps(manifest).encode(), files


async def _install(directory: Path) -> tuple[Services, str, str]:
    key_dir = directory / "keys"
    create_local_pki(key_dir, organisation="Bench Office")
    create_master_key(key_dir)
    settings = Settings(
        data_dir=directory,
        key_dir=key_dir,
        sealing_workers=0,
        scheduler_enabled=False,
        email_pickup_dir=directory / "mail",
        log_level="WARNING",
    )
    run_migrations(settings.effective_database_url)
    services = Services.start(settings)
    async with services.db.write() as session:
        sender = await create_office(session=session, code="SENDER", name="Sending Office")
        mailboxes = {}
        for code in ("HUB", "FINAL"):
            await create_office(session=session, code=code, name=f"{code} office")
            mailboxes[code], _ = await open_office_mailbox(
                session=session, office=code, email=f"in@{code.lower()}.test"
            )
        clerk = await create_user(
            session=session, email="clerk@final.test", password="bench-pass-1", display_name="C"
        )
        await grant_role(
            session=session, user_id=clerk.id, role=Role.EDITOR, account_id=mailboxes["FINAL"].id
        )
    return services, sender.id, clerk.id


async def _round(services: Services, sender_id: str, clerk, n: int) -> float:
    manifest, files = _package(n)
    started = time.perf_counter()
    sent = await send_transmission(
        services,
        office_id=sender_id,
        manifest=manifest,
        files=files,
        via="HUB",
        actor="user:bench",
    )
    await drain_until_idle(services, worker_id="bench", lanes=1)
    async with services.db.session() as session:
        view = await load_view(session=session, transmission_id=sent.view.transmission.id)
    assert view is not None and len(view.hops) == 2, "the hub did not forward"
    taken = await pick_up(services, clerk, view.hops[-1].delivery.id, ip="127.0.0.1")
    assert taken.evidence_type == "ContentHandover"
    return time.perf_counter() - started


async def main(count: int) -> dict:
    with tempfile.TemporaryDirectory() as directory:
        services, sender_id, clerk_id = await _install(Path(directory))
        try:
            async with services.db.session() as session:
                clerk = await load_principal(session, clerk_id)
            await _round(services, sender_id, clerk, 0)  # warm-up: caches, first checkpoint
            times = [await _round(services, sender_id, clerk, n) for n in range(1, count + 1)]
        finally:
            await services.close()
    ms = sorted(1000 * t for t in times)
    return {
        "bench": "transmission A -> hub -> B, 3 documents, automatic forwarding, until B's pickup",
        "database": "sqlite",
        "rounds": count,
        "median_ms": round(statistics.median(ms), 1),
        "p90_ms": round(statistics.quantiles(ms, n=10)[-1] if len(ms) > 1 else ms[0], 1),
        "min_ms": round(ms[0], 1),
        "max_ms": round(ms[-1], 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="transmissions to time")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.count)), indent=2))
