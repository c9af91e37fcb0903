"""Setting up an install: data directory, keys (local PKI and blob master key), migrations."""

from __future__ import annotations

import os

from mailbox.config import Settings
from mailbox.db import run_migrations
from mailbox.signing.pki import PKI_FILES, create_local_pki
from mailbox.storage.blobs import MASTER_KEY_FILE, create_master_key

__all__ = ["initialise"]


def initialise(settings: Settings) -> bool:
    """Create what is missing and migrate; return True if keys were created now. Never
    replaces an existing key: that would orphan every seal, evidence record and blob."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key_dir = settings.effective_key_dir
    created = False
    present = [name for name in PKI_FILES if (key_dir / name).exists()]
    if not present:
        create_local_pki(key_dir)
        created = True
    elif len(present) != len(PKI_FILES):
        missing = sorted(set(PKI_FILES) - set(present))
        raise FileNotFoundError(
            f"The key directory {key_dir} is incomplete (missing {', '.join(missing)}); "
            "restore it from backup rather than creating new keys."
        )
    if not (key_dir / MASTER_KEY_FILE).exists():
        create_master_key(key_dir)
        created = True
    os.chmod(key_dir, 0o700)
    settings.effective_blob_dir.mkdir(parents=True, exist_ok=True)
    run_migrations(settings.effective_database_url)
    return created
