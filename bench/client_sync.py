"""The reference client's sync rate: documents per second that ``python -m mailbox.client sync``
brings into an empty folder, each checked (digest, proof bundle verified against the root,
the bundle's copy the same bytes), against the bare floor of the same run: the same number of
document and proof downloads over the same HTTP connection with no check at all.

Run from the repository root:  python bench/client_sync.py [--documents 100]

A demo install is started in a temporary directory (``python -m mailbox demo``, SQLite, one
serve process); ``--documents`` PDFs are dispatched to the demo applicant through the bulk API
(``python -m mailbox.client push``), then a machine client of the applicant syncs them.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailbox.client.connection import Connection  # noqa: E402
from mailbox.operations.demo import demo_pdf  # noqa: E402
from tests.fixtures.service_process import (  # noqa: E402
    free_port,
    service_env,
    stop_process_group,
    wait_until_healthy,
)


def _key_pair(directory: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = directory / f"{name}.key", directory / f"{name}.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def _register(env: dict[str, str], directory: Path, name: str, *party: str) -> tuple[str, Path]:
    private, public = _key_pair(directory, name)
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "mailbox",
            "--json",
            "client",
            "create",
            "--name",
            name,
            *party,
            "--public-key",
            str(public),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(created.stdout)["id"], private


def _client(base: str, who: tuple[str, Path], *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mailbox.client",
        args[0],
        "--url",
        base,
        "--client-id",
        who[0],
        "--key",
        str(who[1]),
        *args[1:],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=100)
    documents = parser.parse_args().documents
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = service_env(data, port, email_pickup_dir=str(data / "mail"))
        log = (data / "service.log").open("wb")
        service = subprocess.Popen(
            [sys.executable, "-m", "mailbox", "demo"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until_healthy(base, service, timeout=120)
            with sqlite3.connect(data / "mailbox.db") as db:
                account_id = db.execute("SELECT id FROM account").fetchone()[0]
                office_id = db.execute("SELECT id FROM office").fetchone()[0]
            reader = _register(env, data, "sync", "--role", "viewer", "--account", account_id)
            sender = _register(env, data, "push", "--role", "dispatcher", "--office", office_id)
            outgoing = data / "outgoing"
            outgoing.mkdir()
            manifest = data / "manifest.csv"
            with manifest.open("w", newline="") as out:
                writer = csv.writer(out)
                writer.writerow(
                    ["file", "recipient", "kind", "dossier_number", "title", "reference"]
                )
                for n in range(documents):
                    (outgoing / f"d{n:05}.pdf").write_bytes(demo_pdf(f"Notice {n}"))
                    writer.writerow(
                        [
                            f"d{n:05}.pdf",
                            account_id,
                            "R71",
                            f"EP26{n:06}.1",
                            f"Notice {n}",
                            f"B-{n}",
                        ]
                    )
            started = time.perf_counter()
            subprocess.run(
                _client(
                    base, sender, "push", str(outgoing), "--manifest", str(data / "manifest.csv")
                ),
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
            push_seconds = time.perf_counter() - started
            started = time.perf_counter()
            subprocess.run(
                _client(
                    base,
                    reader,
                    "sync",
                    "--root",
                    str(data / "keys" / "root.crt"),
                    "--to",
                    str(data / "inbox"),
                ),
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
            sync_seconds = time.perf_counter() - started
            synced = len(list((data / "inbox").glob("*/*.pdf")))
            # The floor: the same downloads, no checks, no files written (the documents are
            # picked up already, so this is ContentAccess, as a second sync would never do).
            with Connection(base, reader[0], reader[1]) as connection:
                ids = [p.name for p in (data / "inbox").iterdir() if p.is_dir()]
                started = time.perf_counter()
                for delivery_id in ids:
                    connection.request("GET", f"/api/v1/deliveries/{delivery_id}/document")
                    connection.request("GET", f"/api/v1/deliveries/{delivery_id}/proof")
                floor_seconds = time.perf_counter() - started
        finally:
            stop_process_group(service)
            log.close()
    print(
        json.dumps(
            {
                "documents": synced,
                "push_seconds": round(push_seconds, 2),
                "push_documents_per_second": round(documents / push_seconds, 1),
                "sync_seconds": round(sync_seconds, 2),
                "sync_documents_per_second": round(synced / sync_seconds, 1),
                "floor_downloads_only_documents_per_second": round(synced / floor_seconds, 1),
                "sync_vs_floor": round(floor_seconds / sync_seconds, 2),
                "note": "sync includes its process start and token; the floor reuses one "
                "connection and checks nothing",
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
