"""The long-lived parts of one service instance, built once at start-up and shared by the web
app, the scheduler and the CLI: settings, database, blob store, keys, sealing pool, evidence
signer, token issuer, and the circuit breakers of the outbox channels (this process's view of
whether our mail server works: see :mod:`mailbox.circuits`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mailbox import clock
from mailbox.circuits import Circuits
from mailbox.config import Settings
from mailbox.db import Database
from mailbox.identity.auth import TokenIssuer
from mailbox.identity.client_jwks import JwksCache
from mailbox.logs import configure_parser_logging
from mailbox.signing.pki import KeyMaterial, load_key_material
from mailbox.signing.pool import SealingPool
from mailbox.signing.records import EvidenceSigner
from mailbox.signing.tsa import local_timestamper, remote_timestamper
from mailbox.storage.blobs import BlobStore, LocalBlobStore, load_master_key

__all__ = ["Services"]


@dataclass
class Services:
    settings: Settings
    db: Database
    blobs: BlobStore
    keys: KeyMaterial
    sealing: SealingPool
    evidence: EvidenceSigner
    tokens: TokenIssuer
    circuits: Circuits = field(default_factory=Circuits)
    # Where the periodic jobs of this process stand, as readiness reports it: set by whoever
    # starts them (mailbox.operations.scheduling), or says why they do not run here.
    scheduler: str = "off in this process"
    # Machine clients' public keys fetched from their JWKS URLs (a cache of this process).
    jwks: JwksCache = field(default_factory=JwksCache)

    def __post_init__(self) -> None:
        self.jwks = JwksCache(
            allow_private=self.settings.client_jwks_allow_private,
            refresh_floor_seconds=self.settings.client_jwks_refresh_floor_seconds,
            timeout_seconds=self.settings.webhook_timeout_seconds,
        )

    @classmethod
    def start(cls, settings: Settings, *, sealing_workers: int | None = None) -> Services:
        """Load keys and open the database, blob store and sealing pool; on an install that may
        travel in time, follow its travelled clock (:func:`mailbox.clock.follow`)."""
        if settings.clock_travel_allowed:
            clock.follow(settings.clock_travel_file)
        key_dir = settings.effective_key_dir
        keys = load_key_material(key_dir)
        timestamper: Any = (
            remote_timestamper(settings.tsa_url) if settings.tsa_url else local_timestamper(keys)
        )
        workers = settings.effective_sealing_workers if sealing_workers is None else sealing_workers
        return cls(
            settings=settings,
            db=Database(settings.effective_database_url),
            blobs=LocalBlobStore(settings.effective_blob_dir, load_master_key(key_dir)),
            keys=keys,
            sealing=SealingPool(
                key_dir,
                workers=workers,
                tsa_url=settings.tsa_url,
                worker_setup=configure_parser_logging,
            ),
            evidence=EvidenceSigner(keys, timestamper),
            tokens=TokenIssuer(
                keys,
                audience=settings.token_audience,
                ttl_seconds=settings.token_ttl_seconds,
                issuer=settings.public_base_url,
            ),
        )

    async def close(self) -> None:
        self.sealing.close()
        await self.db.dispose()
