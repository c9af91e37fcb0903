#!/usr/bin/env python3
"""Quick start, with nothing but Python 3.11+:

    python3 run.py demo     set up .venv, keys and a demo database, then run the service
    python3 run.py test     set up .venv, then run the whole test suite

Both create a virtual environment in .venv (or $MAILBOX_VENV) and install the project with its
test dependencies when pyproject.toml changed since the last install. Extra arguments go to the
command (``python3 run.py test -k inbox``, ``python3 run.py demo --port 8080``).

The service is always started as ``python -m mailbox`` from this directory: ``mailbox`` is also
a standard-library module, and only the current directory coming first on sys.path makes ours
win.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("MAILBOX_VENV", ROOT / ".venv"))


def _python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_environment() -> Path:
    """Create .venv and install the project when missing or out of date."""
    if sys.version_info < (3, 11):  # noqa: UP036  (run.py must explain, not crash, on old Pythons)
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")
    python = _python()
    if not python.exists():
        print(f"Creating a virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = VENV / ".mailbox-installed"
    if not stamp.exists() or stamp.read_text().strip() != wanted:
        print(
            "Installing the project and its dependencies (first run takes a minute) ...", flush=True
        )
        subprocess.run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[test]"], check=True
        )
        stamp.write_text(wanted)
    return python


def _workers(rest: list[str]) -> list[str]:
    """One test process more than the machine has cores (pytest-xdist; many tests wait on
    child processes, sockets and the browser), unless the command line chooses otherwise
    (``-n 0`` runs in one process, which is what a debugger wants)."""
    if any(arg == "-n" or arg.startswith(("-n", "--numprocesses")) for arg in rest):
        return []
    if "no:xdist" in rest:
        return []
    return ["-n", str((os.cpu_count() or 1) + 1)]


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "mailbox"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    python = ensure_environment()
    os.chdir(ROOT)
    if command == "demo":
        args = [str(python), "-m", "mailbox", "demo", *rest]
    elif command == "test":
        args = [str(python), "-m", "pytest", *_workers(rest), *rest]
    else:
        args = [str(python), "-m", "mailbox", *rest]
    if os.name == "nt":
        return subprocess.call(args)
    os.execv(args[0], args)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
