"""``python -m mailbox dispatch batch``: an operator queues a manifest and a folder (or ZIP) of
PDFs, watches a progress bar in the terminal until the batch is done, and reads which lines
were refused; a bad manifest is refused naming each bad line; running it again serves nothing
twice."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from sqlmodel import func, select

from mailbox.config import Settings
from mailbox.models import Delivery
from mailbox.services import Services
from tests.batches import manifest_csv, pdfs_for, rows_for, zip_of
from tests.factories import make_world
from tests.fixtures.cli import run_cli
from tests.fixtures.service_process import ROOT, clean_env

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _in_terminal(settings: Settings, *args: str) -> tuple[int, str]:
    """Run the command with a pseudo-terminal as its stdout and stderr, as an operator's shell
    would; return its exit code and what the terminal showed (colours removed)."""
    env = clean_env(
        database_url=settings.effective_database_url,
        key_dir=str(settings.effective_key_dir),
        data_dir=str(settings.data_dir),
        email_pickup_dir=str(settings.data_dir / "mail"),
        sealing_workers="1",
        batch_chunk_size="5",
    )
    env.update(COLUMNS="120", TERM="xterm")
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "mailbox", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    shown = bytearray()
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process has exited
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    return process.wait(timeout=120), ANSI.sub("", shown.decode(errors="replace"))


async def _deliveries(services: Services) -> int:
    async with services.db.session() as session:
        return (await session.exec(select(func.count()).select_from(Delivery))).one()


async def test_the_command_dispatches_a_folder_with_a_progress_bar_and_lists_refusals(
    services: Services, settings: Settings, tmp_path: Path
) -> None:
    world = await make_world(services)
    rows = rows_for(world.account.id, 25)
    rows[6]["recipient_account_id"] = "acc_nobody"
    folder = tmp_path / "pdfs"
    folder.mkdir()
    for name, data in pdfs_for(rows).items():
        (folder / name).write_bytes(data)
    manifest = tmp_path / "notices.csv"
    manifest.write_bytes(manifest_csv(rows))

    code, shown = _in_terminal(
        settings, "dispatch", "batch", "--office", world.office.code, str(manifest), str(folder)
    )
    assert code == 2, shown
    assert "Dispatching: 24 accepted, 1 refused" in shown
    assert "25/25" in shown
    assert "━" in shown  # the bar itself
    assert re.search(r"Batch bat_\w+ done: 24 accepted, 1 refused", shown), shown
    assert "line 8 (REF-7): No account acc_nobody" in shown
    assert await _deliveries(services) == 24

    archive = tmp_path / "pdfs.zip"
    archive.write_bytes(zip_of(pdfs_for(rows)))
    code, out, err = await run_cli(
        settings,
        "--json",
        "dispatch",
        "batch",
        "--office",
        world.office.id,
        str(manifest),
        str(archive),
    )
    assert code == 2, err
    assert json.loads(out)["accepted"] == 24
    assert await _deliveries(services) == 24


async def test_the_command_refuses_a_bad_manifest_naming_each_line(
    services: Services, settings: Settings, tmp_path: Path
) -> None:
    world = await make_world(services)
    rows = rows_for(world.account.id, 3)
    rows[0]["kind_code"] = ""
    rows[2]["filename"] = "missing.pdf"
    manifest = tmp_path / "notices.csv"
    manifest.write_bytes(manifest_csv(rows))
    archive = tmp_path / "pdfs.zip"
    archive.write_bytes(zip_of(pdfs_for(rows_for(world.account.id, 3))))
    code, _out, err = await run_cli(
        settings, "dispatch", "batch", "--office", world.office.code, str(manifest), str(archive)
    )
    assert code == 2
    assert "line 2: kind_code" in err and "line 4: filename" in err, err
    assert await _deliveries(services) == 0
    assert not any((settings.data_dir / "batches").iterdir())
