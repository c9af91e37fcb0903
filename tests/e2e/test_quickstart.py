"""The README's quick start from a clean clone, and what a newcomer sees when they get it wrong.

``python3 run.py demo`` runs in a copy of the repository's files (tracked, and untracked but not
ignored: the work in progress before a commit). The copy uses this test run's environment
through a stand-in for ``.venv`` whose install stamp matches, so that nothing is installed.
All traffic stays on 127.0.0.1; every wait is bounded; the service runs in its own process
group, which is gone when the test ends.
"""

from __future__ import annotations

import hashlib
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures.service_process import (
    ROOT,
    clean_env,
    free_port,
    group_alive,
    stop_process_group,
    wait_until_healthy,
)

pytestmark = pytest.mark.slow

APPLICANT_LINE = re.compile(r"(?P<email>applicant@\S+)\s+password:\s*(?P<password>\S+)")


def clean_clone(target: Path) -> Path:
    """Copy what a clone (plus uncommitted, non-ignored work) would hold into ``target``."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout to know which files a clone holds")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    for name in sorted({n for n in listed.decode().split("\0") if n}):
        source = ROOT / name
        if source.is_file():  # tracked but deleted in the working tree: not in the clone
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def installed_environment(directory: Path, clone: Path) -> Path:
    """A stand-in for ``.venv``: its ``bin/python`` runs this test run's interpreter, and its
    stamp says the clone's pyproject.toml is installed, so ``run.py`` installs nothing."""
    python = directory / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    stamp = hashlib.sha256((clone / "pyproject.toml").read_bytes()).hexdigest()
    (directory / ".mailbox-installed").write_text(stamp)
    return directory


class OutputLines:
    """The lines a child prints, collected by a thread so that waiting for one is bounded."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(process,), daemon=True).start()

    def _read(self, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line)
            self._queue.put(line)

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if match := pattern.search(line):
                return match
        raise AssertionError(f"no line matching {pattern.pattern!r} within {timeout} s:\n{self}")

    def __str__(self) -> str:
        return "".join(self.lines[-60:])


def test_run_py_demo_serves_the_demo_mailbox_from_a_clean_clone(tmp_path: Path) -> None:
    clone = clean_clone(tmp_path / "clone")
    port = free_port()
    env = clean_env(
        venv=str(installed_environment(tmp_path / "venv", clone)),
        data_dir=str(tmp_path / "data"),
        sealing_workers="0",
    )
    process = subprocess.Popen(
        [sys.executable, "run.py", "demo", "--port", str(port)],
        cwd=clone,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = OutputLines(process)
    try:
        credentials = output.wait_for(APPLICANT_LINE, timeout=120)
        base_url = f"http://127.0.0.1:{port}"
        assert any(f"{base_url}/login" in line for line in output.lines), output
        wait_until_healthy(base_url, process, timeout=60, describe_output=lambda: str(output))

        with httpx.Client(base_url=base_url, timeout=10) as api:
            token = api.post(
                "/api/v1/auth/token",
                data={
                    "grant_type": "password",
                    "username": credentials["email"],
                    "password": credentials["password"],
                },
            )
            assert token.status_code == 200, token.text
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            inbox = api.get("/api/v1/inbox", headers=headers)
        assert inbox.status_code == 200, inbox.text
        assert len(inbox.json()["items"]) == 3
    finally:
        stop_process_group(process)
    assert process.returncode == 0, output
    assert not group_alive(process.pid)


def test_run_py_without_a_command_prints_usage_and_exits_2() -> None:
    result = subprocess.run(
        [sys.executable, "run.py"], cwd=ROOT, capture_output=True, text=True, timeout=30
    )

    assert result.returncode == 2
    assert "python3 run.py demo" in result.stdout
    assert "python3 run.py test" in result.stdout


def test_serve_refuses_an_unmigrated_database_and_names_the_upgrade_command(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    init = subprocess.run(
        [sys.executable, "-m", "mailbox", "init"],
        cwd=ROOT,
        env=clean_env(data_dir=str(data_dir)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert init.returncode == 0, init.stderr
    empty = tmp_path / "empty.db"
    empty.touch()

    refused = subprocess.run(
        [sys.executable, "-m", "mailbox", "serve", "--port", str(free_port())],
        cwd=ROOT,
        env=clean_env(
            data_dir=str(data_dir),
            database_url=f"sqlite+aiosqlite:///{empty}",
            sealing_workers="0",
            scheduler_enabled="false",
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert refused.returncode != 0
    assert "python -m mailbox db upgrade" in refused.stderr
    assert "Traceback" not in refused.stderr
