"""The reference client against the real service: ``python -m mailbox.client push`` dispatches
a folder through the bulk API once however often it runs, and ``sync`` keeps a folder in step
with the inbox, downloading each document once, checked against its digest and the service's
root, with its verified proof bundle beside it, and resuming where a killed run stopped."""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mailbox.client.folder import STATE_FILE
from mailbox.operations.demo import demo_pdf
from tests.fixtures.service_process import (
    ROOT,
    free_port,
    service_env,
    stop_process_group,
    wait_until_healthy,
)

pytestmark = pytest.mark.slow

PUSHED = 12


class Demo:
    """``python -m mailbox demo`` in ``data_dir``, with one machine client for the demo office's
    dispatching and one for the demo applicant's reading."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / "service.log"
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mailbox", "demo"],
                cwd=ROOT,
                env=self.env(),
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until_healthy(
            self.base, self.process, timeout=90, describe_output=lambda: self.log.read_text()
        )
        with sqlite3.connect(data_dir / "mailbox.db") as db:
            self.account_id = db.execute(
                "SELECT id FROM account WHERE name = 'Demo Applicant Ltd'"
            ).fetchone()[0]
            self.office_id = db.execute("SELECT id FROM office").fetchone()[0]
        self.reader = self.register("sync", "viewer", "--account", self.account_id)
        self.sender = self.register("push", "dispatcher", "--office", self.office_id)

    def env(self) -> dict[str, str]:
        return service_env(self.data_dir, self.port, email_pickup_dir=str(self.data_dir / "mail"))

    def register(self, name: str, role: str, *party: str) -> tuple[str, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        key_file = self.data_dir / f"{name}.key"
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        public = self.data_dir / f"{name}.pub"
        public.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
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
                "--role",
                role,
                *party,
                "--public-key",
                str(public),
            ],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert created.returncode == 0, created.stdout + created.stderr
        return json.loads(created.stdout)["id"], key_file

    def client(self, who: tuple[str, Path], *args: str) -> list[str]:
        client_id, key_file = who
        return [
            sys.executable,
            "-m",
            "mailbox.client",
            *args[:1],
            "--url",
            self.base,
            "--client-id",
            client_id,
            "--key",
            str(key_file),
            *args[1:],
        ]

    def run_client(self, who: tuple[str, Path], *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.client(who, *args),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def evidence(self, evidence_type: str) -> dict[str, int]:
        """The records of ``evidence_type`` per delivery into the demo applicant's account
        (the demo's office-to-office deliveries go to other mailboxes)."""
        with sqlite3.connect(self.data_dir / "mailbox.db") as db:
            rows = db.execute(
                "SELECT e.delivery_id, count(*) FROM evidence e"
                " JOIN delivery d ON d.id = e.delivery_id"
                " WHERE e.type = ? AND d.account_id = ? GROUP BY e.delivery_id",
                (evidence_type, self.account_id),
            ).fetchall()
        return dict(rows)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    service = Demo(tmp_path)
    try:
        yield service
    finally:
        stop_process_group(service.process)


def _outbox_folder(tmp_path: Path, account_id: str, count: int) -> tuple[Path, Path]:
    folder = tmp_path / "outgoing"
    folder.mkdir()
    manifest = tmp_path / "manifest.csv"
    with manifest.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["file", "recipient", "kind", "dossier_number", "title", "reference"])
        for n in range(count):
            name = f"notice-{n:03}.pdf"
            (folder / name).write_bytes(demo_pdf(f"Notice {n}", "x" * (n * 40)))
            writer.writerow([name, account_id, "R71", f"EP2612{n:04}.1", f"Notice {n}", f"OR-{n}"])
    return folder, manifest


def _synced_documents(folder: Path) -> dict[str, bytes]:
    return {
        path.parent.name: path.read_bytes()
        for path in folder.glob("*/*.pdf")
        if not path.name.endswith(".part")
    }


def test_push_dispatches_a_folder_once_however_often_it_runs(tmp_path: Path, demo: Demo) -> None:
    folder, manifest = _outbox_folder(tmp_path, demo.account_id, 3)

    first = demo.run_client(demo.sender, "push", str(folder), "--manifest", str(manifest))
    again = demo.run_client(demo.sender, "push", str(folder), "--manifest", str(manifest))

    assert first.returncode == 0, first.stdout + first.stderr
    assert again.returncode == 0, again.stdout + again.stderr
    dispatched = [line.split()[-1] for line in first.stdout.splitlines() if "dispatched" in line]
    assert len(dispatched) == 3
    assert [line.split()[-1] for line in again.stdout.splitlines() if "dispatched" in line] == (
        dispatched
    )
    assert len(demo.evidence("ContentConsignment")) == 3 + 3  # the demo's three and these
    with sqlite3.connect(demo.data_dir / "mailbox.db") as db:
        batches = db.execute(
            "SELECT total, accepted, refused FROM dispatch_batch ORDER BY created_at"
        ).fetchall()
    # The demo's national-phase notices, then each run one bulk dispatch; the second replayed.
    assert batches == [(6, 6, 0), (3, 3, 0), (3, 3, 0)]


def test_push_with_a_bad_manifest_names_each_bad_line_and_sends_nothing(
    tmp_path: Path, demo: Demo
) -> None:
    folder, manifest = _outbox_folder(tmp_path, demo.account_id, 2)
    rows = list(csv.reader(manifest.open()))
    rows[1][0] = "missing.pdf"
    rows[2][5] = rows[1][5]
    rows.append(["notice-000.pdf", demo.account_id, "R71", "", "No dossier", "OR-9"])
    with manifest.open("w", newline="") as out:
        csv.writer(out).writerows(rows)

    result = demo.run_client(demo.sender, "push", str(folder), "--manifest", str(manifest))

    assert result.returncode == 1
    assert "line 2: no file 'missing.pdf'" in result.stderr
    assert "line 3: reference 'OR-0' is already on line 2" in result.stderr
    assert "line 4: empty dossier_number" in result.stderr
    assert len(demo.evidence("ContentConsignment")) == 3  # only the demo's


def test_sync_downloads_each_document_once_with_its_verified_proof(
    tmp_path: Path, demo: Demo
) -> None:
    root = demo.data_dir / "keys" / "root.crt"
    target = tmp_path / "inbox"

    first = demo.run_client(demo.reader, "sync", "--root", str(root), "--to", str(target))
    second = demo.run_client(demo.reader, "sync", "--root", str(root), "--to", str(target))

    assert first.returncode == 0, first.stdout + first.stderr
    assert second.returncode == 0, second.stdout + second.stderr
    assert "In step: 3 new document(s)" in first.stderr
    assert "In step: 0 new document(s)" in second.stderr
    documents = _synced_documents(target)
    assert len(documents) == 3
    for delivery_id, pdf in documents.items():
        with zipfile.ZipFile(target / delivery_id / f"proof-{delivery_id}.zip") as bundle:
            assert bundle.read("document.pdf") == pdf
            assert "ContentHandover" in bundle.read("evidence.json").decode()
    # Each document was fetched once: one pickup, and the bundle's copy as its one later access.
    assert demo.evidence("ContentHandover") == dict.fromkeys(documents, 1)


def test_sync_killed_in_the_middle_resumes_without_losing_or_repeating_a_document(
    tmp_path: Path, demo: Demo
) -> None:
    folder, manifest = _outbox_folder(tmp_path, demo.account_id, PUSHED)
    pushed = demo.run_client(demo.sender, "push", str(folder), "--manifest", str(manifest))
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    root = demo.data_dir / "keys" / "root.crt"
    target = tmp_path / "inbox"
    command = demo.client(demo.reader, "sync", "--root", str(root), "--to", str(target))

    running = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    state = target / STATE_FILE
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and running.poll() is None:
        if state.exists() and len(json.loads(state.read_text())["deliveries"]) >= 2:
            break
        time.sleep(0.01)
    running.kill()
    running.wait(timeout=30)
    done_before = len(json.loads(state.read_text())["deliveries"])
    assert 2 <= done_before < 3 + PUSHED, "the run was not stopped in the middle"

    resumed = demo.run_client(demo.reader, "sync", "--root", str(root), "--to", str(target))

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    documents = _synced_documents(target)
    assert len(documents) == 3 + PUSHED
    assert not list(target.glob("**/*.part"))
    kept = json.loads(state.read_text())["deliveries"]
    for delivery_id, pdf in documents.items():
        assert kept[delivery_id]["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert set(demo.evidence("ContentHandover")) == set(documents)


def _foreign_root(path: Path) -> Path:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Somebody else's root")])
    moment = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment - timedelta(days=1))
        .not_valid_after(moment + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_sync_against_another_root_keeps_nothing_and_says_why(tmp_path: Path, demo: Demo) -> None:
    root = _foreign_root(tmp_path / "other-root.pem")
    target = tmp_path / "inbox"

    result = demo.run_client(demo.reader, "sync", "--root", str(root), "--to", str(target))

    assert result.returncode == 1
    assert "does not verify" in result.stderr
    assert _synced_documents(target) == {}
    state = target / STATE_FILE
    assert not state.exists() or json.loads(state.read_text())["cursor"] is None
