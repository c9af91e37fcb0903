"""The command line: set up an install, migrate, administer, audit and run the service
(``python -m mailbox --help``).

Every command that reports something prints JSON with ``--json`` so that scripts and tests can
drive it; errors print one clear line to stderr and exit non-zero (2 for bad input).
"""

from mailbox.cli import admin, audit, blobs, running  # noqa: F401  (registers the commands)
from mailbox.cli.base import main

__all__ = ["main"]
