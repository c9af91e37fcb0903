"""The event feed across a restart of the service: a client that stored its cursor resumes
after the restart with exactly the events committed since, and a long-poll hears of an event
committed by another process (here: this test, writing to the same database) within a
second."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest

from mailbox.config import Settings
from mailbox.deliveries.dispatch import DispatchRequest, dispatch
from mailbox.operations.demo import DEMO_USERS, demo_pdf
from mailbox.services import Services
from tests.e2e.test_service_processes import Service
from tests.fixtures.service_process import free_port, stop_process_group

pytestmark = pytest.mark.slow


def _token(base: str, role: str) -> dict[str, str]:
    email, password = DEMO_USERS[role]
    response = httpx.post(
        f"{base}/api/v1/auth/token",
        data={"grant_type": "password", "username": email, "password": password},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _follow(base: str, headers: dict[str, str], after: str | None) -> tuple[list[dict], str]:
    """Every event after ``after``, three at a time, and the cursor to go on from."""
    seen: list[dict] = []
    while True:
        params = {"limit": 3, **({"after": after} if after else {})}
        page = httpx.get(f"{base}/api/v1/events", headers=headers, params=params, timeout=30)
        assert page.status_code == 200, page.text
        seen.extend(page.json()["items"])
        if page.json()["next_cursor"] == after:
            return seen, after or ""
        after = page.json()["next_cursor"]


def _dispatch_from_this_process(
    data_dir: Path, account_id: str, office_id: str
) -> tuple[str, float]:
    """Dispatch one document through the domain in this process, on the service's database
    (what another instance, a worker or the command line would do); its id and the moment
    its transaction had committed."""

    async def run() -> tuple[str, float]:
        services = Services.start(Settings(data_dir=data_dir, sealing_workers=0))
        try:
            dispatched = await dispatch(
                services,
                DispatchRequest(
                    office_id=office_id,
                    recipient_account_id=account_id,
                    kind_code="R71",
                    dossier_number="EP24999999.9",
                    title="Sent by another process",
                    filename="notice.pdf",
                    pdf=demo_pdf("Sent by another process"),
                ),
                actor="user:another-process",
            )
            return dispatched.delivery.id, time.monotonic()
        finally:
            await services.close()

    return asyncio.run(run())


def test_a_stored_cursor_resumes_after_a_restart_and_a_long_poll_hears_another_process(
    tmp_path: Path,
) -> None:
    first = Service(tmp_path, free_port(), "demo", scheduler_enabled="false")
    try:
        first.wait_healthy()
        headers = _token(first.base, "applicant")
        before, stored = _follow(first.base, headers, None)
    finally:
        stop_process_group(first.process)
    assert before, "the demo delivers documents to the applicant"
    with sqlite3.connect(tmp_path / "mailbox.db") as db:
        account_id, office_id = db.execute(
            "SELECT account_id, office_id FROM delivery ORDER BY submitted_at LIMIT 1"
        ).fetchone()

    # While the service is down, another process commits an event.
    while_down, _ = _dispatch_from_this_process(tmp_path, account_id, office_id)

    second = Service(tmp_path, free_port(), "serve", scheduler_enabled="false")
    try:
        second.wait_healthy()
        headers = _token(second.base, "applicant")
        after_restart, stored = _follow(second.base, headers, stored)
        assert [(e["delivery_id"], e["type"]) for e in after_restart] == [
            (while_down, "delivery.available")
        ]
        whole, _ = _follow(second.base, headers, None)
        assert whole == before + after_restart  # nothing missed, repeated or reordered

        # A long-poll, and an event committed by another process meanwhile.
        answer: dict[str, object] = {}

        def wait_for_event() -> None:
            answer["response"] = httpx.get(
                f"{second.base}/api/v1/events",
                headers=headers,
                params={"after": stored, "wait": 25},
                timeout=60,
            )
            answer["at"] = time.monotonic()

        waiter = threading.Thread(target=wait_for_event, daemon=True)
        waiter.start()
        time.sleep(1.0)
        assert "response" not in answer  # it waits
        late, committed = _dispatch_from_this_process(tmp_path, account_id, office_id)
        waiter.join(30)
    finally:
        stop_process_group(second.process)

    response = answer["response"]
    assert isinstance(response, httpx.Response) and response.status_code == 200, response
    assert [e["delivery_id"] for e in response.json()["items"]] == [late]
    assert float(answer["at"]) - committed < 1.0  # type: ignore[arg-type]
