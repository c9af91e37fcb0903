"""``python -m mailbox ...``: run from the repository root so that this package, not the
standard-library ``mailbox`` module, is imported."""

from mailbox.cli import main

main()
