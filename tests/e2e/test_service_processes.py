"""The service as real processes: one scheduler per SQLite database (a second ``worker`` is
refused, a second ``serve`` serves without one and says so), and a graceful SIGTERM that lets
a dispatch in progress finish, stops the sealing processes and leaves no process behind.

Each service runs ``python -m mailbox demo`` in its own process group on 127.0.0.1; every wait
is bounded and every group is gone when its test ends.
"""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mailbox.operations.demo import DEMO_USERS
from tests.fixtures.service_process import (
    ROOT,
    free_port,
    group_alive,
    second_factor,
    service_env,
    stop_process_group,
    wait_until_healthy,
)

pytestmark = pytest.mark.slow


class Service:
    """A child ``python -m mailbox ...`` in its own process group, its output in a file."""

    def __init__(self, data_dir: Path, port: int, *args: str, **settings: str) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.output = data_dir / f"service-{port}.log"
        with self.output.open("wb") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mailbox", *args],
                cwd=ROOT,
                env=service_env(
                    data_dir, port, email_pickup_dir=str(data_dir / "mail"), **settings
                ),
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_healthy(self) -> None:
        wait_until_healthy(self.base, self.process, timeout=90, describe_output=self.text)


@pytest.fixture
def services_started() -> Iterator[list[Service]]:
    started: list[Service] = []
    yield started
    for service in started:
        stop_process_group(service.process)


def _demo(data_dir: Path, started: list[Service], **settings: str) -> Service:
    service = Service(data_dir, free_port(), "demo", **settings)
    started.append(service)
    service.wait_healthy()
    return service


def test_a_second_worker_on_the_same_sqlite_file_is_refused_and_serve_goes_without(
    tmp_path: Path, services_started: list[Service]
) -> None:
    first = _demo(tmp_path, services_started)
    ready = httpx.get(f"{first.base}/health/ready", timeout=10).json()
    assert ready["checks"]["scheduler"]["detail"].startswith("running here")

    worker = subprocess.run(
        [sys.executable, "-m", "mailbox", "worker"],
        cwd=ROOT,
        env=service_env(tmp_path, free_port()),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert worker.returncode != 0
    assert "already runs in" in worker.stderr
    assert str(tmp_path / "mailbox.db") in worker.stderr
    assert "MAILBOX_SCHEDULER_ENABLED=false" in worker.stderr

    second = Service(tmp_path, free_port(), "serve")
    services_started.append(second)
    second.wait_healthy()
    body = httpx.get(f"{second.base}/health/ready", timeout=10).json()
    assert body["status"] == "ready"  # it serves HTTP ...
    assert body["checks"]["scheduler"]["detail"].startswith("not running here: ")  # ... alone
    assert "SERVING WITHOUT THE SCHEDULER" in second.text()

    # Once the first one has stopped, the lock is free: a worker takes the scheduler.
    stop_process_group(first.process)
    stop_process_group(second.process)
    worker = Service(tmp_path, free_port(), "worker", log_level="INFO")
    services_started.append(worker)
    deadline = time.monotonic() + 60
    while "scheduler started" not in worker.text() and time.monotonic() < deadline:
        assert worker.process.poll() is None, worker.text()
        time.sleep(0.1)
    assert "scheduler started" in worker.text()


def _large_pdf(size: int) -> bytes:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    from mailbox.operations.demo import demo_pdf

    writer = IncrementalPdfFileWriter(io.BytesIO(demo_pdf("A large notice")))
    writer.root["/Padding"] = writer.add_object(generic.StreamObject(stream_data=os.urandom(size)))
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_sigterm_during_a_dispatch_lets_it_finish_then_exits_0_with_no_process_left(
    tmp_path: Path, services_started: list[Service]
) -> None:
    service = _demo(tmp_path, services_started, sealing_workers="1", log_level="INFO")
    email, password = DEMO_USERS["dispatcher"]
    token = httpx.post(
        f"{service.base}/api/v1/auth/token",
        data={"grant_type": "password", "username": email, "password": password}
        | second_factor("dispatcher"),
        timeout=30,
    ).json()["access_token"]
    with sqlite3.connect(tmp_path / "mailbox.db") as db:
        (account_id,) = db.execute("SELECT id FROM account ORDER BY id LIMIT 1").fetchone()
    body, content_type = _multipart(account_id, _large_pdf(20 * 1024 * 1024))

    # The upload goes out in two halves: SIGTERM arrives between them, while the request is
    # in progress; the second half is sent once the server no longer accepts connections.
    halfway, go_on = threading.Event(), threading.Event()
    answer: dict[str, httpx.Response | BaseException] = {}

    def chunks() -> Iterator[bytes]:
        middle = len(body) // 2
        yield body[:middle]
        halfway.set()
        assert go_on.wait(60)
        yield body[middle:]

    def send() -> None:
        try:
            answer["response"] = httpx.post(
                f"{service.base}/api/v1/dispatches",
                content=chunks(),
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": content_type,
                    "Content-Length": str(len(body)),
                },
                timeout=120,
            )
        except BaseException as exc:  # reported by the assertions below
            answer["response"] = exc

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    assert halfway.wait(60)
    time.sleep(0.2)  # the first half is on the server's side of the socket
    os.kill(service.process.pid, signal.SIGTERM)
    _wait_until_refused(service.base)
    go_on.set()
    sender.join(120)

    response = answer["response"]
    assert isinstance(response, httpx.Response), response
    assert response.status_code == 201, response.text
    delivery_id = response.json()["id"]
    assert service.process.wait(timeout=60) == 0, service.text()
    deadline = time.monotonic() + 10
    while group_alive(service.process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not group_alive(service.process.pid), _group(service.process.pid)

    with sqlite3.connect(tmp_path / "mailbox.db") as db:
        status = db.execute("SELECT status FROM delivery WHERE id = ?", (delivery_id,)).fetchone()
    assert status == ("available",)
    verify = subprocess.run(
        [sys.executable, "-m", "mailbox", "audit", "verify"],
        cwd=ROOT,
        env=service_env(tmp_path, free_port()),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


def _multipart(account_id: str, pdf: bytes) -> tuple[bytes, str]:
    request = httpx.Request(
        "POST",
        "http://mailbox.test/",
        data={
            "recipient_account_id": account_id,
            "kind_code": "R71",
            "dossier_number": "EP23123456.7",
            "title": "A large notice",
        },
        files={"file": ("large.pdf", pdf, "application/pdf")},
    )
    return request.read(), request.headers["content-type"]


def _wait_until_refused(base: str, timeout: float = 15.0) -> None:
    """Return once a new connection to ``base`` is refused (the server stopped accepting)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/health/live", timeout=1.0)
        except httpx.ConnectError:
            return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{base} still accepts connections {timeout} s after SIGTERM")


def _group(group: int) -> str:
    listing = subprocess.run(
        ["ps", "-o", "pid,stat,args", "-g", str(group)], capture_output=True, text=True
    )
    return listing.stdout
