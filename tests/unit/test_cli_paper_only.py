"""The document kinds an office serves on paper only, set from the command line: by code or
id, printed as JSON; a bad kind code or an unknown office is one line on stderr and exit 2,
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
    """A migrated database with office EP."""
    directory = tmp_path_factory.mktemp("paper-only")
    assert _cli(directory, "db", "upgrade").returncode == 0
    created = _cli(directory, "--json", "office", "create", "--code", "EP", "--name", "EPO")
    assert created.returncode == 0, created.stderr
    return directory


def test_office_paper_only_marks_kinds_by_code_and_clears_them_by_id(data_dir: Path) -> None:
    first = _cli(data_dir, "--json", "office", "paper-only", "EP", "--kind", "R71")
    second = _cli(data_dir, "--json", "office", "paper-only", "ep", "--kind", "A94")
    again = _cli(data_dir, "--json", "office", "paper-only", "EP", "--kind", "R71")
    assert first.returncode == second.returncode == again.returncode == 0, first.stderr
    office = json.loads(again.stdout)
    assert (office["code"], office["paper_only_kinds"]) == ("EP", ["A94", "R71"])

    off = _cli(data_dir, "office", "paper-only", office["id"], "--kind", "A94", "--off")
    assert off.returncode == 0, off.stderr
    assert off.stdout.strip() == "Office EP: paper only for kinds R71"


def test_office_paper_only_with_bad_kind_or_unknown_office_exits_2(data_dir: Path) -> None:
    unknown = _cli(data_dir, "office", "paper-only", "XX", "--kind", "R71")
    bad = _cli(data_dir, "office", "paper-only", "EP", "--kind", "R 71!")
    missing = _cli(data_dir, "office", "paper-only", "EP")

    assert (unknown.returncode, unknown.stderr.strip()) == (2, "Error: No office XX")
    assert bad.returncode == 2 and "is not a document kind code" in bad.stderr
    assert missing.returncode == 2 and "--kind" in missing.stderr
    assert "Traceback" not in unknown.stderr + bad.stderr + missing.stderr
    listed = _cli(data_dir, "--json", "office", "paper-only", "EP", "--kind", "R71")
    assert json.loads(listed.stdout)["paper_only_kinds"] == ["R71"]  # nothing else changed
