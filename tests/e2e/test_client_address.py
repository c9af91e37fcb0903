"""The client address the real server records (in pickup evidence, and for log-in limits): the
connecting peer, unless the peer is a proxy the operator named in ``MAILBOX_TRUSTED_PROXIES``.
A forged ``X-Forwarded-For`` from anyone else changes nothing.

Runs ``python -m mailbox demo`` as a child process on 127.0.0.1 (its own process group, every
wait bounded) and picks up a demo document with an ``X-Forwarded-For`` header.
"""

from __future__ import annotations

import subprocess
import sys
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

FORGED = "203.0.113.99"


def _pickup_address(data_dir: Path, **settings: str) -> str | None:
    """Start the demo service with ``settings``, pick up the newest demo document sending
    ``X-Forwarded-For: FORGED``, and return the address its ContentHandover records."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "mailbox", "demo", "--port", str(port)],
        cwd=ROOT,
        env=service_env(data_dir, port, email_pickup_dir=str(data_dir / "mail"), **settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until_healthy(base, process, timeout=60)
        email, password = DEMO_USERS["applicant"]
        with httpx.Client(base_url=base, timeout=30) as http:
            token = http.post(
                "/api/v1/auth/token",
                data={"grant_type": "password", "username": email, "password": password},
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": FORGED}
            delivery = http.get("/api/v1/inbox", headers=headers).json()["items"][0]["id"]
            pickup = http.get(f"/api/v1/deliveries/{delivery}/document", headers=headers)
            assert pickup.status_code == 200, pickup.text
            assert pickup.headers["x-evidence-type"] == "ContentHandover"
            timeline = http.get(f"/api/v1/deliveries/{delivery}", headers=headers).json()
    finally:
        stop_process_group(process)
    (handover,) = [e for e in timeline["timeline"] if e["type"] == "ContentHandover"]
    return handover["actor_ip"]


def test_a_forged_forwarded_for_is_ignored_without_trusted_proxies(tmp_path: Path) -> None:
    assert _pickup_address(tmp_path) == "127.0.0.1"


def test_a_trusted_proxy_names_the_client(tmp_path: Path) -> None:
    assert _pickup_address(tmp_path, trusted_proxies='["127.0.0.1"]') == FORGED
