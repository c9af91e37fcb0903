"""The rule of the legal clock an office follows, chosen from the command line: by code or id,
for every kind or one kind; an unknown rule, kind or office is one line on stderr and exit 2,
and changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.service_process import clean_env

ROOT = Path(__file__).resolve().parents[2]


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailbox", *args],
        cwd=ROOT,
        env=clean_env(data_dir=str(data_dir)),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("office-clock")
    assert _cli(directory, "db", "upgrade").returncode == 0
    created = _cli(directory, "office", "create", "--code", "EP", "--name", "EPO")
    assert created.returncode == 0, created.stderr
    return directory


def test_office_clock_chooses_rules_per_office_and_kind(data_dir: Path) -> None:
    before = _cli(data_dir, "office", "clock", "EP")
    assert (before.returncode, before.stdout.strip()) == (0, "*: pickup-or-n-days-v1 (default)")

    office_wide = _cli(data_dir, "office", "clock", "EP", "--rule", "epo-2023-v1")
    by_kind = _cli(
        data_dir, "--json", "office", "clock", "ep", "--rule", "de-mail-v1", "--kind", "R71"
    )
    again = _cli(data_dir, "office", "clock", "EP", "--rule", "epct-availability-v1")
    listed = _cli(data_dir, "--json", "office", "clock", "EP")

    assert office_wide.returncode == 0, office_wide.stderr
    assert office_wide.stdout.strip() == "Office EP, kind *: epo-2023-v1"
    assert by_kind.returncode == 0, by_kind.stderr
    assert json.loads(by_kind.stdout)["kind_code"] == "R71"
    assert again.stdout.strip() == "Office EP, kind *: epct-availability-v1"  # replaced, not added
    choices = json.loads(listed.stdout)["choices"]
    assert [(c["kind_code"], c["rule_id"]) for c in choices] == [
        ("*", "epct-availability-v1"),
        ("R71", "de-mail-v1"),
    ]


def test_office_clock_with_unknown_rule_or_office_exits_2_and_changes_nothing(
    data_dir: Path,
) -> None:
    before = json.loads(_cli(data_dir, "--json", "office", "clock", "EP").stdout)
    unknown_rule = _cli(data_dir, "office", "clock", "EP", "--rule", "seven-days")
    unknown_office = _cli(data_dir, "office", "clock", "XX", "--rule", "epo-2023-v1")
    long_kind = _cli(data_dir, "office", "clock", "EP", "--rule", "epo-2023-v1", "--kind", "K" * 33)

    assert unknown_rule.returncode == 2
    assert unknown_rule.stderr.startswith("Error: Unknown legal-clock rule 'seven-days'; the rules")
    assert "epo-2023-v1" in unknown_rule.stderr and "paper-posting-v1" in unknown_rule.stderr
    assert (unknown_office.returncode, unknown_office.stderr.strip()) == (2, "Error: No office XX")
    assert long_kind.returncode == 2 and "1-32 characters" in long_kind.stderr
    assert "Traceback" not in unknown_rule.stderr + unknown_office.stderr + long_kind.stderr
    assert json.loads(_cli(data_dir, "--json", "office", "clock", "EP").stdout) == before
