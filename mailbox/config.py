"""Settings: one typed object, read from ``MAILBOX_*`` environment variables and an optional
TOML file named by ``MAILBOX_CONFIG_FILE``. Defaults run the whole service on one machine:
SQLite in WAL mode, blobs and keys under the data directory, SMTP on localhost.

Every setting is documented in the README's configuration table (``python -m mailbox settings``
prints the effective values, secrets masked).
"""

from __future__ import annotations

import ipaddress
import os
import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = ["CLOCK_TRAVEL_FILE", "DEMO_MARKER", "TEMPLATES_DIR", "Settings", "masked_url"]

# The templates of every surface: email/, web/, receipt/ (Jinja2), letters/ (the words of paper
# letters).
TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"

MiB = 1024 * 1024
# In the data directory: the mark `python -m mailbox demo` leaves on the install it made, and
# the offset a demo or test install travelled in time (`python -m mailbox clock advance`).
DEMO_MARKER = "demo-install"
CLOCK_TRAVEL_FILE = "clock-offset.json"

# scheme://user:password@ - the password runs to the first "@", as SQLAlchemy reads it.
_URL_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://[^:/?#@]*):[^@]*@")


def masked_url(url: str) -> str:
    """``url`` with the password of its user part shown as ``***``, for printing."""
    return _URL_PASSWORD.sub(r"\1:***@", url)


class Settings(BaseSettings):
    """The service's configuration. Paths left unset derive from ``data_dir``."""

    model_config = SettingsConfigDict(env_prefix="MAILBOX_", extra="forbid", frozen=True)

    data_dir: Path = Field(Path("var"), description="Where the database, blobs and keys live.")
    database_url: str = Field(
        "",
        description="SQLAlchemy async URL. Default: SQLite file <data_dir>/mailbox.db (WAL). "
        "For scale: postgresql+asyncpg://user@host/db.",
    )
    blob_dir: Path | None = Field(
        None, description="Encrypted blob store. Default <data_dir>/blobs."
    )
    key_dir: Path | None = Field(
        None, description="Keys and certificates. Default <data_dir>/keys."
    )
    public_base_url: str = Field(
        "http://127.0.0.1:8000", description="Base URL used in links sent to people."
    )
    host: str = Field("127.0.0.1", description="Address the web server binds.")
    port: int = Field(8000, description="Port the web server binds.")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks of the reverse proxies in front of the service, e.g. "
        '["10.0.0.5"]: only their X-Forwarded-For names the client (in evidence, log-in limits). '
        "Empty: the connecting peer is the client and X-Forwarded-For is ignored.",
    )
    upload_limit_bytes: int = Field(50 * MiB, gt=0, description="Largest PDF accepted.")
    token_ttl_seconds: int = Field(900, gt=0, le=86400, description="Access token lifetime.")
    token_audience: str = Field("mailbox-api", description="`aud` claim of access tokens.")
    login_failures_per_account: int = Field(
        10,
        ge=1,
        description="Failed password log-ins for one email within the login failure window "
        "after which that email's log-ins are refused (429, even with the right password) "
        "until the window has passed; a successful log-in clears the count.",
    )
    login_failures_per_address: int = Field(
        50,
        ge=1,
        description="Failed password log-ins from one client address, whatever the emails, "
        "within the login failure window after which log-ins from it are refused (429).",
    )
    login_failure_window_seconds: int = Field(
        900,
        gt=0,
        description="Window (seconds) in which failed log-ins are counted, API token endpoint "
        "and log-in page alike; a lock-out lasts until the failures leave the window.",
    )
    verification_emails_per_address: int = Field(
        3,
        ge=1,
        description="Address-verification emails one address may get (whichever account "
        "asks) within the verification email window; more are refused (429).",
    )
    verification_emails_per_account: int = Field(
        10,
        ge=1,
        description="Address-verification emails (new addresses and resent links) one "
        "account may have sent within the verification email window; more are refused (429).",
    )
    verification_email_window_seconds: int = Field(
        3600,
        gt=0,
        description="Window (seconds) in which address-verification emails are counted.",
    )
    totp_failures_per_account: int = Field(
        5,
        ge=1,
        description="Wrong second-factor codes (TOTP or recovery code) for one account within "
        "the login failure window after which its codes are refused (429, even the right one) "
        "until the window has passed; a right code clears the count.",
    )
    sealing_workers: int = Field(
        -1,
        ge=-1,
        description="Processes that seal PDFs. 0 seals in a thread; -1 uses one per CPU core.",
    )
    tsa_url: str | None = Field(
        None, description="External RFC 3161 TSA. Unset: the in-process TSA signs timestamps."
    )
    deemed_delivery_days: int = Field(
        10, ge=0, description="Days after consignment a document not picked up is deemed delivered."
    )
    deemed_delivery_days_by_office: dict[str, int] = Field(
        default_factory=dict, description='Per-office override by office code, e.g. {"EP": 10}.'
    )
    # Email
    smtp_host: str = Field("127.0.0.1", description="SMTP server host.")
    smtp_port: int = Field(25, description="SMTP server port.")
    smtp_security: Literal["plain", "starttls", "tls"] = Field(
        "plain", description="plain, starttls or tls (implicit TLS)."
    )
    smtp_username: str | None = Field(
        None, description="SMTP login, if the server needs one (only with starttls or tls)."
    )
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_sender: str = Field("Mailbox <no-reply@localhost>", description="From address of alerts.")
    smtp_timeout: float = Field(10.0, gt=0, description="Seconds before an SMTP call gives up.")
    smtp_connections: int = Field(4, ge=1, le=32, description="Parallel SMTP connections.")
    email_pickup_dir: Path | None = Field(
        None,
        description="Development and demos: write alerts as .eml files into this directory "
        "instead of sending them over SMTP. Unset: SMTP.",
    )
    clock_travel: bool = Field(
        False,
        description="Demo and test installs only: allow `clock advance`, which moves the "
        "service's clock forward (documents get deemed delivered early). A demo install "
        "(`demo`) allows it without this setting.",
    )
    # Outbox and scheduler
    scheduler_enabled: bool = Field(
        True, description="Run periodic jobs inside the web process (off: run `worker`)."
    )
    outbox_interval_seconds: float = Field(2.0, gt=0, description="How often the outbox drains.")
    outbox_batch_size: int = Field(500, ge=1, description="Messages claimed per drain round.")
    outbox_max_attempts: int = Field(
        8, ge=1, description="Attempts before a message is dead; our own failures do not count."
    )
    outbox_backoff_seconds: float = Field(30.0, gt=0, description="First retry delay; doubles.")
    outbox_backoff_max_seconds: float = Field(3600.0, gt=0, description="Longest retry delay.")
    outbox_lease_seconds: float = Field(
        300.0,
        gt=0,
        description="How long a worker holds the messages it claimed; a crashed worker's "
        "messages are claimed again after it.",
    )
    # Bulk dispatch
    batch_upload_limit_bytes: int = Field(
        2048 * MiB,
        gt=0,
        description="Largest bulk dispatch upload (the manifest and its PDFs, a ZIP or parts), "
        "stored to disk as it arrives; larger ones are refused with 413.",
    )
    batch_max_items: int = Field(
        100_000, ge=1, description="Most lines one bulk dispatch manifest may have."
    )
    batch_chunk_size: int = Field(
        50,
        ge=1,
        le=1000,
        description="Items of a bulk dispatch claimed and recorded together; each item is still "
        "its own dispatch, with its own transaction.",
    )
    batch_concurrency: int = Field(
        0,
        ge=0,
        le=64,
        description="Items of a bulk dispatch dispatched side by side in one process. 0: twice "
        "the sealing processes (at least 2).",
    )
    batch_interval_seconds: float = Field(
        2.0, gt=0, description="How often the scheduler looks for bulk dispatch work."
    )
    batch_lease_seconds: float = Field(
        300.0,
        gt=0,
        description="How long a worker holds the bulk dispatch items it claimed; a crashed "
        "worker's items are claimed again after it (each is dispatched once all the same).",
    )
    legal_scan_interval_seconds: float = Field(
        60.0, gt=0, description="How often reminders and deemed deliveries are looked for."
    )
    checkpoint_interval_seconds: float = Field(
        3600.0,
        gt=0,
        description="How often a signed checkpoint of the evidence log (the Merkle root of all "
        "records so far, timestamped) is made, when records were added since the last one.",
    )
    retention_document_days: int = Field(
        120,
        ge=1,
        le=36500,
        description="Days a document's content is kept after its delivery became final (picked "
        "up, deemed delivered, paper posted or returned); then it is crypto-shredded. Per office "
        "and document kind: `python -m mailbox retention set`.",
    )
    retention_evidence_days: int = Field(
        3650,
        ge=1,
        le=36500,
        description="Days the evidence of a delivery is kept at least (never less than the "
        "content); the evidence log is append-only, so nothing deletes evidence today.",
    )
    retention_interval_seconds: float = Field(
        3600.0, gt=0, description="How often content past its retention period is purged."
    )
    digest_hour_utc: int = Field(
        6, ge=0, le=23, description="Hour (UTC) of the daily digest for accounts in digest mode."
    )
    reminder_days: list[int] = Field(
        default_factory=lambda: [3, 7], description="Days after consignment to remind."
    )
    paper_batch_hour_utc: int = Field(
        16,
        ge=0,
        le=23,
        description="Hour (UTC) of the daily print batch: each office's letters not yet in a "
        "batch are merged into one sealed PDF with its manifest.",
    )
    retrieval_failures_per_user: int = Field(
        10,
        gt=0,
        description="Wrong retrieval codes one person may enter within the window before "
        "further tries are refused (429).",
    )
    retrieval_failures_per_address: int = Field(
        30,
        gt=0,
        description="Wrong retrieval codes one client address may enter within the window "
        "before further tries are refused (429).",
    )
    retrieval_failure_window_seconds: int = Field(
        3600,
        gt=0,
        description="Window (seconds) in which wrong retrieval codes are counted.",
    )
    blob_sweep_interval_seconds: float = Field(
        3600.0,
        gt=0,
        description="How often the blob store is swept (and once at start): temporary files "
        "of failed writes older than an hour, and orphan blobs, are removed.",
    )
    blob_orphan_grace_seconds: float = Field(
        86400.0,
        ge=3600,
        description="Age after which a blob that no document references (its dispatch failed "
        "or was killed after storing it) is removed by the sweep; at least an hour, so that "
        "a dispatch between storing its blob and committing is never swept.",
    )
    webhook_timeout_seconds: float = Field(10.0, gt=0, description="Webhook POST timeout.")
    webhook_allow_http_loopback: bool = Field(
        False, description="Accept http:// webhook URLs on 127.0.0.1 (tests and local demos)."
    )
    webhook_allow_private_targets: bool = Field(
        False,
        description="Post webhooks to loopback, private and other non-public addresses too "
        "(tests and local demos only: otherwise a subscriber could make the service reach "
        "its own network).",
    )
    client_jwks_allow_private: bool = Field(
        False,
        description="Accept http:// JWKS URLs of machine clients and fetch them from loopback, "
        "private and other non-public addresses too (tests and local demos only: otherwise a "
        "client could make the service reach its own network).",
    )
    client_jwks_refresh_floor_seconds: float = Field(
        60.0,
        ge=0,
        description="Shortest time (seconds) between two fetches of one client's JWKS URL "
        "when an assertion names a key not yet seen; keys fetched are otherwise kept 5 minutes.",
    )
    feed_max_waiting: int = Field(
        200,
        ge=1,
        description="Event-feed requests that may wait for events (`wait=`) at once in one "
        "process; more are answered 503 with Retry-After.",
    )
    feed_poll_interval_seconds: float = Field(
        0.25,
        gt=0,
        le=1,
        description="How often a process with waiting event-feed requests looks for events "
        "committed by other processes (its own wake them at once).",
    )
    log_level: str = Field("INFO", description="Logging level.")
    # Running, health and metrics
    shutdown_grace_seconds: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="On SIGTERM or SIGINT: how long requests in progress (a dispatch being "
        "sealed) and the current outbox drain round may take to finish before they are cut; "
        "then the sealing processes stop and the process exits 0.",
    )
    ready_outbox_max_age_seconds: float = Field(
        900.0,
        gt=0,
        description="`/health/ready` reports the outbox as degraded when its oldest pending "
        "message was written longer ago than this (seconds).",
    )
    metrics_networks: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        description="Addresses or networks that may read `/metrics` without a token (the "
        "client address as `MAILBOX_TRUSTED_PROXIES` makes it). Empty: only with the token.",
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token with which a scraper anywhere may read `/metrics`. Unset: "
        "only clients in `MAILBOX_METRICS_NETWORKS`.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("MAILBOX_CONFIG_FILE")
        if config_file:
            path = Path(config_file)
            if not path.is_file():
                raise FileNotFoundError(f"MAILBOX_CONFIG_FILE names {path}, which does not exist")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @model_validator(mode="after")
    def _check_combinations(self) -> Settings:
        if self.smtp_password is not None and self.smtp_username is None:
            raise ValueError("smtp_password is set but smtp_username is not")
        if self.smtp_security == "plain" and self.smtp_username is not None:
            raise ValueError(
                "smtp_username is set with smtp_security=plain, which would send the password "
                "in clear text; set MAILBOX_SMTP_SECURITY to starttls or tls"
            )
        if self.retention_evidence_days < self.retention_document_days:
            raise ValueError(
                "retention_evidence_days must not be less than retention_document_days"
            )
        if any(day <= 0 for day in self.reminder_days):
            raise ValueError("reminder_days must be positive")
        for network in self.metrics_networks:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(
                    f"metrics_networks: {network!r} is not an address or network"
                ) from None
        return self

    @cached_property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'mailbox.db'}"

    @cached_property
    def effective_blob_dir(self) -> Path:
        return self.blob_dir or self.data_dir / "blobs"

    @cached_property
    def effective_key_dir(self) -> Path:
        return self.key_dir or self.data_dir / "keys"

    @cached_property
    def effective_sealing_workers(self) -> int:
        if self.sealing_workers == -1:
            return os.cpu_count() or 1
        return self.sealing_workers

    @property
    def clock_travel_file(self) -> Path:
        """Where the offset travelled by ``clock advance`` is kept (every process follows it)."""
        return self.data_dir / CLOCK_TRAVEL_FILE

    @property
    def clock_travel_allowed(self) -> bool:
        """Whether this install may travel in time: a test install (``clock_travel``) or the
        demo install (marked by ``demo``)."""
        return self.clock_travel or (self.data_dir / DEMO_MARKER).is_file()

    def deemed_days_for(self, office_code: str) -> int:
        """Days after consignment before deemed delivery, for the office with ``office_code``."""
        return self.deemed_delivery_days_by_office.get(office_code, self.deemed_delivery_days)

    def describe(self) -> dict[str, Any]:
        """The effective settings with secrets masked, for `python -m mailbox settings`."""
        values = self.model_dump(mode="json")
        values["database_url"] = masked_url(self.effective_database_url)
        if self.tsa_url is not None:
            values["tsa_url"] = masked_url(self.tsa_url)
        values["blob_dir"] = str(self.effective_blob_dir)
        values["key_dir"] = str(self.effective_key_dir)
        if self.smtp_password is not None:
            values["smtp_password"] = "********"
        if self.metrics_token is not None:
            values["metrics_token"] = "********"
        return values
