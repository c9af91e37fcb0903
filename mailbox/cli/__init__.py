"""The command line: set up an install, migrate, administer, audit, run and operate the
service: bulk dispatch, outbox, paper, backups, retention, the clock of demo and test installs,
a hub's coverage (``python -m mailbox --help``).

Every command that reports something prints JSON with ``--json`` so that scripts and tests can
drive it; errors print one clear line to stderr and exit non-zero (2 for bad input).
"""

from mailbox.cli import (  # noqa: F401  (registers the commands)
    admin,
    audit,
    backups,
    batches,
    blobs,
    clock,
    coverage,
    outages,
    outbox,
    paper,
    retention,
    running,
)
from mailbox.cli.base import main

__all__ = ["main"]
