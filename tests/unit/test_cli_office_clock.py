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


def test_office_clock_chooses_rules_per_office_and_kind_and_the_zone(data_dir: Path) -> None:
    before = _cli(data_dir, "office", "clock", "EP")
    assert before.returncode == 0, before.stderr
    assert before.stdout.splitlines() == [
        "Office EP, time zone UTC",
        "kind *: pickup-or-n-days-v1 (default)",
    ]

    office_wide = _cli(data_dir, "office", "clock", "EP", "--rule", "epo-2023-v1")
    by_kind = _cli(data_dir, "office", "clock", "ep", "--rule", "de-mail-v1", "--kind", "R71")
    again = _cli(
        data_dir,
        "office",
        "clock",
        "EP",
        "--rule",
        "epct-availability-v1",
        "--zone",
        "Europe/Berlin",
    )
    listed = _cli(data_dir, "--json", "office", "clock", "EP")

    assert office_wide.returncode == by_kind.returncode == again.returncode == 0, again.stderr
    assert office_wide.stdout.splitlines()[1:] == ["kind *: epo-2023-v1"]
    assert by_kind.stdout.splitlines()[1:] == ["kind *: epo-2023-v1", "kind R71: de-mail-v1"]
    assert again.stdout.splitlines() == [  # replaced, not added
        "Office EP, time zone Europe/Berlin",
        "kind *: epct-availability-v1",
        "kind R71: de-mail-v1",
    ]
    assert json.loads(listed.stdout) == {
        "office": "EP",
        "time_zone": "Europe/Berlin",
        "default_rule": "pickup-or-n-days-v1",
        "choices": [
            {"kind_code": "*", "rule_id": "epct-availability-v1"},
            {"kind_code": "R71", "rule_id": "de-mail-v1"},
        ],
    }


def test_office_clock_with_unknown_rule_zone_or_office_exits_2_and_changes_nothing(
    data_dir: Path,
) -> None:
    before = json.loads(_cli(data_dir, "--json", "office", "clock", "EP").stdout)
    unknown_rule = _cli(data_dir, "office", "clock", "EP", "--rule", "seven-days")
    unknown_office = _cli(data_dir, "office", "clock", "XX", "--rule", "epo-2023-v1")
    long_kind = _cli(data_dir, "office", "clock", "EP", "--rule", "epo-2023-v1", "--kind", "K" * 33)
    bad_zone = _cli(data_dir, "office", "clock", "EP", "--zone", "Mars/Olympus")
    kind_alone = _cli(data_dir, "office", "clock", "EP", "--kind", "R71")

    assert unknown_rule.returncode == 2
    assert unknown_rule.stderr.startswith("Error: Unknown legal-clock rule 'seven-days'; the rules")
    assert "epo-2023-v1" in unknown_rule.stderr and "paper-posting-v1" in unknown_rule.stderr
    assert (unknown_office.returncode, unknown_office.stderr.strip()) == (2, "Error: No office XX")
    assert long_kind.returncode == 2 and "1-32 characters" in long_kind.stderr
    assert bad_zone.returncode == 2
    assert "Unknown time zone 'Mars/Olympus'" in bad_zone.stderr
    assert kind_alone.returncode == 2 and "--kind needs --rule" in kind_alone.stderr
    errors = unknown_rule.stderr + unknown_office.stderr + long_kind.stderr + bad_zone.stderr
    assert "Traceback" not in errors
    assert json.loads(_cli(data_dir, "--json", "office", "clock", "EP").stdout) == before
