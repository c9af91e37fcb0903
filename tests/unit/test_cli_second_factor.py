"""The command line and two-step log-in: the demo prints the TOTP secrets of its dispatcher
and auditor, and an administrator turns a person's second factor off (a lost phone), with a
clear message and exit code 2 for an unknown email."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mailbox.operations.demo import DEMO_TOTP_SECRETS, DEMO_USERS
from tests.fixtures.service_process import clean_env

ROOT = Path(__file__).resolve().parents[2]


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailbox", *args],
        cwd=ROOT,
        env=clean_env(data_dir=str(data_dir), sealing_workers="0"),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_demo_prints_totp_secrets_and_admin_resets_a_second_factor(tmp_path: Path) -> None:
    data = tmp_path / "data"
    demo = _cli(data, "demo", "--no-serve")
    assert demo.returncode == 0, demo.stderr
    for role, secret in DEMO_TOTP_SECRETS.items():
        assert f"TOTP secret: {secret}" in demo.stdout, role

    dispatcher = DEMO_USERS["dispatcher"][0]
    reset = _cli(data, "--json", "user", "reset-second-factor", "--email", dispatcher.upper())
    again = _cli(data, "--json", "user", "reset-second-factor", "--email", dispatcher)
    unknown = _cli(data, "user", "reset-second-factor", "--email", "nobody@demo.test")

    assert reset.returncode == 0, reset.stderr
    assert json.loads(reset.stdout)["reset"] is True
    assert json.loads(again.stdout)["reset"] is False
    assert unknown.returncode == 2
    assert "No user with email nobody@demo.test" in unknown.stderr
    assert unknown.stdout == ""
