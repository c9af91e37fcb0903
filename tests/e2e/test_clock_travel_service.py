"""Time travel with the service running: on the demo install, `clock advance` moves the clock
of the running service too (an access token issued before a 30-minute step has expired for
it), and after an 11-day step the demo documents are deemed delivered, as the service's API
shows, and the service itself sends the deemed-delivery emails (it holds the SQLite
database's scheduler, so the command leaves the outbox to it)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mailbox.operations.demo import DEMO_USERS
from tests.fixtures.service_process import (
    ROOT,
    free_port,
    service_env,
    stop_process_group,
    wait_until_healthy,
)

pytestmark = pytest.mark.slow


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mailbox", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _token(base: str) -> dict[str, str]:
    email, password = DEMO_USERS["applicant"]
    answer = httpx.post(
        f"{base}/api/v1/auth/token",
        data={"grant_type": "password", "username": email, "password": password},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _deemed_mails(outgoing: Path) -> list[Path]:
    """The deemed-delivery alerts to the demo applicant (the offices' mailboxes get theirs)."""
    return [
        p
        for p in outgoing.glob("*.eml")
        if "Subject: Document deemed delivered" in (text := p.read_text(errors="replace"))
        and "applicant@demo.test" in text
    ]


def test_the_running_service_follows_the_travelled_clock(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    outgoing = tmp_path / "outgoing-mail"
    env = service_env(
        tmp_path / "data", port, email_pickup_dir=str(outgoing), outbox_interval_seconds="0.5"
    )
    seeded = _cli(env, "demo", "--no-serve")
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    service = subprocess.Popen(
        [sys.executable, "-m", "mailbox", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until_healthy(base, service, timeout=60)
        early = _token(base)
        inbox = httpx.get(f"{base}/api/v1/inbox", headers=early, timeout=10).json()["items"]
        assert {d["status"] for d in inbox} == {"available"}
        assert all("unless it is opened before" in d["legal_date"]["sentence"] for d in inbox)

        stepped = _cli(env, "--json", "clock", "advance", "30m")
        assert stepped.returncode == 0, stepped.stdout + stepped.stderr
        # Issued for 15 minutes, half an hour ago for the running service.
        assert httpx.get(f"{base}/api/v1/inbox", headers=early, timeout=10).status_code == 401

        # Every delivery waiting for pickup: the applicant's, and the demo's office-to-office
        # deliveries into the hub's and the searching authority's mailboxes.
        with sqlite3.connect(tmp_path / "data" / "mailbox.db") as db:
            (waiting,) = db.execute(
                "SELECT count(*) FROM delivery WHERE status = 'available'"
            ).fetchone()
        deemed = _cli(env, "--json", "clock", "advance", "11d")
        assert deemed.returncode == 0, deemed.stdout + deemed.stderr
        report = json.loads(deemed.stdout)
        assert report["deemed_delivered"] == waiting >= len(inbox)
        assert report["drained"] is False  # the running service holds the scheduler
        later = httpx.get(f"{base}/api/v1/inbox", headers=_token(base), timeout=10).json()
        assert {d["status"] for d in later["items"]} == {"deemed_delivered"}
        assert all(
            d["legal_date"]["sentence"].endswith("it was not opened before.")
            for d in later["items"]
        )
        deadline = time.monotonic() + 30
        while len(_deemed_mails(outgoing)) < len(inbox) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(_deemed_mails(outgoing)) == len(inbox)
    finally:
        stop_process_group(service)
