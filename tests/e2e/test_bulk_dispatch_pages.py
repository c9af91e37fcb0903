"""The bulk dispatch pages in Debian's chromium against the real service (with its scheduler,
which dispatches the batches): the demo dispatcher follows the header's link, sees a manifest
with bad lines refused with each line named, uploads a manifest and a ZIP, and watches the
batch's page refresh itself (no script) until it is done, with the refused line's problem and
links to the delivered documents."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailbox.operations.demo import DEMO_USERS
from tests.batches import manifest_csv, pdfs_for, rows_for, zip_of
from tests.fixtures.browser import CHROMIUM_ARGS, DemoService, log_in  # noqa: F401
from tests.fixtures.service_process import (
    ROOT,
    free_port,
    service_env,
    stop_process_group,
    wait_until_healthy,
)

pytestmark = pytest.mark.browser
ITEMS = 30


@pytest.fixture(scope="module")
def demo_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoService]:
    """The demo install served with its scheduler, which works off the batches in small
    chunks (so that the progress page shows a batch under way)."""
    data_dir = tmp_path_factory.mktemp("bulk-demo")
    port = free_port()
    env = service_env(
        data_dir,
        port,
        batch_chunk_size="3",
        batch_interval_seconds="0.3",
        email_pickup_dir=str(data_dir / "mail"),
    )
    setup = subprocess.run(
        [sys.executable, "-m", "mailbox", "demo", "--no-serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert setup.returncode == 0, f"demo set-up failed:\n{setup.stdout}\n{setup.stderr}"
    log_path = data_dir / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mailbox", "serve"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base_url, process, timeout=30, describe_output=log_path.read_text)
        yield DemoService(base_url, data_dir)
    finally:
        stop_process_group(process)


def _demo_account(service: DemoService) -> str:
    email, password = DEMO_USERS["applicant"]
    with httpx.Client(base_url=service.base_url, timeout=10) as api:
        token = api.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": email, "password": password},
        ).json()["access_token"]
        accounts = api.get("/api/v1/accounts", headers={"Authorization": f"Bearer {token}"})
        return accounts.json()["items"][0]["id"]


def test_a_dispatcher_uploads_a_batch_and_watches_it_until_done(
    page: Any, demo_service: DemoService, tmp_path: Path
) -> None:
    rows = rows_for(_demo_account(demo_service), ITEMS, prefix="PAGE")
    files = pdfs_for(rows)
    archive = tmp_path / "notices.zip"
    archive.write_bytes(zip_of(files))
    bad_rows = [dict(row) for row in rows[:3]]
    bad_rows[0]["kind_code"] = "no spaces"
    bad_rows[2]["filename"] = "nowhere.pdf"
    bad = tmp_path / "bad.csv"
    bad.write_bytes(manifest_csv(bad_rows))
    rows[4]["recipient_account_id"] = "acc_nobody"
    good = tmp_path / "notices.csv"
    good.write_bytes(manifest_csv(rows))

    log_in(page, "dispatcher")
    page.get_by_role("link", name="Bulk dispatch").click()
    page.wait_for_url("**/office/batches")
    assert page.get_by_role("heading", name="Upload a batch").is_visible()

    page.set_input_files("#manifest", str(bad))
    page.set_input_files("#archive", str(archive))
    page.get_by_role("button", name="Upload and dispatch").click()
    page.wait_for_load_state()
    alert = page.get_by_role("alert").inner_text()
    assert "Nothing was dispatched" in alert
    assert "line 2: kind_code" in alert and "line 4: filename" in alert

    page.set_input_files("#manifest", str(good))
    page.set_input_files("#archive", str(archive))
    page.get_by_role("button", name="Upload and dispatch").click()
    page.wait_for_url("**/office/batches/bat_*")
    assert page.locator('meta[http-equiv="refresh"]').count() == 1

    status = page.locator("#batch-status")
    page.wait_for_function(
        "() => document.querySelector('#batch-status')?.textContent === 'done'",
        timeout=120_000,
        polling=500,
    )
    assert status.inner_text() == "done"
    assert page.locator("#batch-accepted").inner_text() == str(ITEMS - 1)
    assert page.locator("#batch-refused").inner_text() == "1"
    assert page.locator('meta[http-equiv="refresh"]').count() == 0
    refused = page.locator("tr.item.refused")
    assert refused.count() == 1
    assert "No account acc_nobody" in refused.inner_text()
    page.screenshot(path=str(tmp_path / "batch.png"), full_page=True)

    page.locator(".item.accepted a").first.click()
    page.wait_for_url("**/deliveries/dlv_*")
    assert page.get_by_role("heading").first.is_visible()

    page.goto("/office/batches")
    assert page.locator("table tbody tr").count() >= 1
    assert "done" in page.locator("table tbody tr").first.inner_text()
