"""Setting up and running: init, db upgrade, settings, serve, worker, demo."""

from __future__ import annotations

import asyncio
import json
import math
import signal
import sys

import click

from mailbox.cli.base import emit, load_settings, main, open_database, run_domain
from mailbox.config import Settings, masked_url

# --- set-up --------------------------------------------------------------------------------


@main.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the data directory, a local PKI (root, seal, evidence, TSA, token keys) and the
    blob master key, then migrate the database."""
    from mailbox.operations.setup import initialise

    settings = load_settings()
    created = initialise(settings)
    emit(
        ctx,
        {
            "key_dir": str(settings.effective_key_dir),
            "created_keys": created,
            "database": masked_url(settings.effective_database_url),
        },
        f"Keys in {settings.effective_key_dir} ({'created' if created else 'kept'}); "
        f"database at {masked_url(settings.effective_database_url)} migrated.",
    )


@main.group()
def db() -> None:
    """Database schema migrations."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Migrate the database to the newest schema."""
    from mailbox.db import run_migrations

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    run_migrations(settings.effective_database_url, revision)
    click.echo(f"Database at {masked_url(settings.effective_database_url)} is at {revision}.")


@main.command("settings")
@click.option("--markdown", is_flag=True, help="Print the documentation table instead.")
def show_settings(markdown: bool) -> None:
    """Print the effective settings (secrets masked) as JSON."""
    if markdown:
        from mailbox.config_doc import settings_table

        click.echo(settings_table())
        return
    click.echo(json.dumps(load_settings().describe(), indent=2))


# --- running -------------------------------------------------------------------------------


@main.command()
@click.option("--host", default=None, help="Bind address (default: MAILBOX_HOST).")
@click.option("--port", default=None, type=int, help="Port (default: MAILBOX_PORT).")
def serve(host: str | None, port: int | None) -> None:
    """Run the web service (API and pages) with its scheduler, until SIGTERM or SIGINT: then
    it stops accepting, lets requests in progress and the current drain round finish (within
    MAILBOX_SHUTDOWN_GRACE_SECONDS), stops the sealing processes and exits 0.

    On SQLite, when another process already runs the database's scheduler, it serves without
    one and says so (CRITICAL in the log, and in /health/ready)."""
    _serve(load_settings(), host=host, port=port)


def _serve(settings: Settings, *, host: str | None, port: int | None) -> None:
    """Run the web service with ``settings``, bound to ``host`` and ``port`` if given."""
    import uvicorn

    from mailbox.api.app import create_app
    from mailbox.logs import configure_logging

    configure_logging(settings.log_level)

    async def refuse_unmigrated() -> None:
        # Checked here too, not only in the app's start-up: inside uvicorn the refusal would
        # drown in a traceback and exit 3.
        async with open_database(settings):
            pass

    run_domain(refuse_unmigrated())
    # uvicorn shuts down gracefully on SIGTERM or SIGINT (stops accepting, lets the requests in
    # progress finish within the grace period, then the app's shutdown stops the scheduler
    # and the sealing processes), then raises the signal again. Handled here, that second
    # signal ends the process with 0: it stopped the way it was asked to.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_cleanly)
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level.lower(),
        # The client address is written into evidence and counts toward log-in limits: take
        # X-Forwarded-For only from the proxies the operator names, never from any peer.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_seconds),
    )


def _exit_cleanly(signum: int, frame: object) -> None:
    sys.exit(0)


@main.command()
def worker() -> None:
    """Run the periodic jobs (outbox drain: alerts and webhooks; deemed delivery and reminders;
    signed checkpoints of the evidence log; the daily digest; the retention purge) without the
    web server, until SIGINT or SIGTERM.

    With several web instances, set MAILBOX_SCHEDULER_ENABLED=false on them and run workers
    instead: on PostgreSQL any number of workers share the outbox, and only one at a time
    runs the scans. On SQLite one process runs them (one worker, or the web server): a worker
    started while another process holds the database's scheduler lock exits with an error.
    """
    from mailbox.logs import configure_logging
    from mailbox.operations.scheduling import run_worker

    settings = load_settings()
    configure_logging(settings.log_level)
    run_domain(run_worker(settings))


@main.command()
@click.option("--port", default=None, type=int, help="Port (default: MAILBOX_PORT).")
@click.option("--no-serve", is_flag=True, help="Set up the demo data, then exit.")
def demo(port: int | None, no_serve: bool) -> None:
    """Set up a demo install (keys, database, demo office, applicant and a delivered
    document), print how to log in, and run the service."""
    from mailbox.operations.demo import DEMO_TOTP_SECRETS, DEMO_USERS, seed_demo
    from mailbox.operations.setup import initialise

    settings = load_settings()
    if settings.email_pickup_dir is None and "smtp_host" not in settings.model_fields_set:
        # No SMTP server configured: alerts go to files the newcomer can open.
        pickup_dir = settings.data_dir / "outgoing-mail"
        settings = settings.model_copy(update={"email_pickup_dir": pickup_dir})
    initialise(settings)
    delivered = asyncio.run(seed_demo(settings))
    base = settings.public_base_url if port is None else f"http://{settings.host}:{port}"
    click.echo("")
    click.echo(f"Demo mailbox ready: {base}/login   (API docs: {base}/schema)")
    for role, (email, password) in DEMO_USERS.items():
        click.echo(f"  {role:<10} {email:<26} password: {password}")
        if role in DEMO_TOTP_SECRETS:
            click.echo(f"  {'':<10} {'':<26} TOTP secret: {DEMO_TOTP_SECRETS[role]}")
    click.echo("  Dispatchers and auditors also type a code: add their TOTP secret to an")
    click.echo("  authenticator app, or print the current code with pyotp.TOTP(secret).now().")
    if settings.email_pickup_dir is not None:
        where = f"are written to {settings.email_pickup_dir} (.eml files)"
    else:
        where = f"go to the SMTP server {settings.smtp_host}:{settings.smtp_port}"
    click.echo(f"  {delivered} demo document(s) delivered; alert emails {where}.")
    click.echo("")
    sys.stdout.flush()
    if not no_serve:
        _serve(settings, host=None, port=port)
