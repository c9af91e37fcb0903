"""The command line: set up an install, migrate, administer, audit and run the service.

Every command that reports something prints JSON with ``--json`` so that scripts and tests can
drive it; errors print one clear line to stderr and exit non-zero (2 for bad input).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import click

from mailbox.config import Settings
from mailbox.errors import MailboxError

__all__ = ["main"]


def _settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # pydantic's errors name the bad variable
        raise click.ClickException(f"Invalid settings: {exc}") from None


def _emit(ctx: click.Context, payload: dict[str, Any], human: str) -> None:
    if ctx.find_root().params.get("as_json"):
        click.echo(json.dumps(payload, indent=2, default=str))
    else:
        click.echo(human)


def run_domain(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro``; turn domain and set-up errors into one line on stderr and an exit code."""
    try:
        return asyncio.run(coro)
    except MailboxError as exc:
        fields = "; ".join(f"{e.field}: {e.message}" for e in exc.errors)
        click.echo(f"Error: {exc.detail}" + (f" ({fields})" if fields else ""), err=True)
        sys.exit(2 if exc.status_code < 500 else 1)
    except (FileNotFoundError, FileExistsError) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)


def domain_command(func: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async command through :func:`run_domain`."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        run_domain(func(*args, **kwargs))

    return wrapper


@click.group()
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
def main(as_json: bool) -> None:
    """Secure electronic-delivery mailbox."""


# --- set-up --------------------------------------------------------------------------------


@main.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the data directory, a local PKI (root, seal, evidence, TSA, token keys) and the
    blob master key, then migrate the database."""
    from mailbox.setup import initialise

    settings = _settings()
    created = initialise(settings)
    _emit(
        ctx,
        {
            "key_dir": str(settings.effective_key_dir),
            "created_keys": created,
            "database": settings.effective_database_url,
        },
        f"Keys in {settings.effective_key_dir} ({'created' if created else 'kept'}); "
        f"database at {settings.effective_database_url} migrated.",
    )


@main.group()
def db() -> None:
    """Database schema migrations."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Migrate the database to the newest schema."""
    from mailbox.db import run_migrations

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    run_migrations(settings.effective_database_url, revision)
    click.echo(f"Database at {settings.effective_database_url} is at {revision}.")


@main.command("settings")
@click.option("--markdown", is_flag=True, help="Print the documentation table instead.")
def show_settings(markdown: bool) -> None:
    """Print the effective settings (secrets masked) as JSON."""
    if markdown:
        from mailbox.config_doc import settings_table

        click.echo(settings_table())
        return
    click.echo(json.dumps(_settings().describe(), indent=2))


# --- running -------------------------------------------------------------------------------


@main.command()
@click.option("--host", default=None, help="Bind address (default: MAILBOX_HOST).")
@click.option("--port", default=None, type=int, help="Port (default: MAILBOX_PORT).")
def serve(host: str | None, port: int | None) -> None:
    """Run the web service (API and pages) with its scheduler."""
    import uvicorn

    from mailbox.api.app import create_app
    from mailbox.logs import configure_logging

    settings = _settings()
    configure_logging(settings.log_level)

    async def refuse_unmigrated() -> None:
        # Checked here too, not only in the app's start-up: inside uvicorn the refusal would
        # drown in a traceback and exit 3.
        async with _database():
            pass

    run_domain(refuse_unmigrated())
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
    )


@main.command()
def worker() -> None:
    """Run the periodic jobs (outbox drain: alerts and webhooks; deemed delivery and reminders;
    the daily digest) without the web server, until SIGINT or SIGTERM.

    With several web instances, set MAILBOX_SCHEDULER_ENABLED=false on them and run workers
    instead: on PostgreSQL any number of workers share the outbox, and only one at a time
    runs the scans. On SQLite run one process that sends (one worker, or the web server).
    """
    from mailbox.logs import configure_logging
    from mailbox.scheduling import run_worker

    settings = _settings()
    configure_logging(settings.log_level)
    run_domain(run_worker(settings))


@main.command()
@click.option("--port", default=None, type=int, help="Port (default: MAILBOX_PORT).")
@click.option("--no-serve", is_flag=True, help="Set up the demo data, then exit.")
def demo(port: int | None, no_serve: bool) -> None:
    """Set up a demo install (keys, database, demo office, applicant and a delivered
    document), print how to log in, and run the service."""
    from mailbox.demo import DEMO_USERS, seed_demo
    from mailbox.setup import initialise

    settings = _settings()
    if settings.email_pickup_dir is None and not os.environ.get("MAILBOX_SMTP_HOST"):
        # No SMTP server configured: alerts go to files the newcomer can open. Set in the
        # environment so that `serve` below (which reads the settings again) sees it too.
        os.environ["MAILBOX_EMAIL_PICKUP_DIR"] = str(settings.data_dir / "outgoing-mail")
        settings = _settings()
    initialise(settings)
    delivered = asyncio.run(seed_demo(settings))
    base = settings.public_base_url if port is None else f"http://{settings.host}:{port}"
    click.echo("")
    click.echo(f"Demo mailbox ready: {base}/login   (API docs: {base}/schema)")
    for role, (email, password) in DEMO_USERS.items():
        click.echo(f"  {role:<10} {email:<26} password: {password}")
    if settings.email_pickup_dir is not None:
        where = f"are written to {settings.email_pickup_dir} (.eml files)"
    else:
        where = f"go to the SMTP server {settings.smtp_host}:{settings.smtp_port}"
    click.echo(f"  {delivered} demo document(s) delivered; alert emails {where}.")
    click.echo("")
    sys.stdout.flush()
    if not no_serve:
        ctx = click.get_current_context()
        ctx.invoke(serve, host=None, port=port)


# --- administration ------------------------------------------------------------------------


@main.group()
def office() -> None:
    """Offices that dispatch documents."""


@office.command("create")
@click.option("--code", required=True, help="Short code, e.g. EP.")
@click.option("--name", required=True)
@click.option("--deemed-days", type=int, default=None, help="Days until deemed delivery.")
@click.pass_context
@domain_command
async def office_create(ctx: click.Context, code: str, name: str, deemed_days: int | None) -> None:
    from mailbox.admin import create_office

    async with _database() as database, database.write() as session:
        created = await create_office(
            session=session, code=code, name=name, deemed_delivery_days=deemed_days
        )
    _emit(ctx, created.model_dump(mode="json"), f"Office {created.code}: {created.id}")


@main.group()
def account() -> None:
    """Accounts: the legal addressees."""


@account.command("create")
@click.option("--name", required=True)
@click.option("--address", "postal_address", required=True, help="Postal address (paper).")
@click.option("--language", default="en", show_default=True)
@click.option("--email", default=None, help="A notification address verified out of band.")
@click.option("--consent/--no-consent", default=False, help="Consents to electronic delivery.")
@click.pass_context
@domain_command
async def account_create(
    ctx: click.Context,
    name: str,
    postal_address: str,
    language: str,
    email: str | None,
    consent: bool,
) -> None:
    from mailbox.admin import add_verified_address, create_account

    async with _database() as database, database.write() as session:
        created = await create_account(
            session=session,
            name=name,
            postal_address=postal_address,
            language=language,
            consent=consent,
        )
        if email:
            await add_verified_address(session=session, account=created, email=email)
    state = "active" if created.edelivery_active else "inactive"
    _emit(ctx, created.model_dump(mode="json"), f"Account {created.id} (e-delivery {state})")


@main.group()
def user() -> None:
    """People who log in."""


@user.command("create")
@click.option("--email", required=True)
@click.option("--name", "display_name", default="")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.pass_context
@domain_command
async def user_create(ctx: click.Context, email: str, display_name: str, password: str) -> None:
    from mailbox.admin import create_user

    async with _database() as database, database.write() as session:
        created = await create_user(
            session=session, email=email, password=password, display_name=display_name
        )
    payload = created.model_dump(mode="json", exclude={"password_hash"})
    _emit(ctx, payload, f"User {created.email}: {created.id}")


@main.command()
@click.option("--user", "user_id", required=True, help="User id.")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["owner", "editor", "viewer", "dispatcher", "auditor"]),
)
@click.option("--account", "account_id", default=None, help="Account id (account roles).")
@click.option("--office", "office_id", default=None, help="Office id (office roles).")
@click.pass_context
@domain_command
async def grant(
    ctx: click.Context, user_id: str, role: str, account_id: str | None, office_id: str | None
) -> None:
    """Give a user a role on an account or an office."""
    from mailbox.admin import grant_role
    from mailbox.models import Role

    async with _database() as database, database.write() as session:
        created = await grant_role(
            session=session,
            user_id=user_id,
            role=Role(role),
            account_id=account_id,
            office_id=office_id,
        )
    _emit(ctx, created.model_dump(mode="json"), f"Grant {created.id}")


@main.group()
def client() -> None:
    """Machine clients (private_key_jwt)."""


@client.command("create")
@click.option("--name", required=True)
@click.option(
    "--role",
    required=True,
    type=click.Choice(["owner", "editor", "viewer", "dispatcher", "auditor"]),
)
@click.option("--account", "account_id", default=None, help="Account id (account roles).")
@click.option("--office", "office_id", default=None, help="Office id (office roles).")
@click.option(
    "--public-key",
    "public_key",
    required=True,
    type=click.File("r"),
    help="PEM file with the client's public key (EC, or RSA >= 2048 bits).",
)
@click.pass_context
@domain_command
async def client_create(
    ctx: click.Context,
    name: str,
    role: str,
    account_id: str | None,
    office_id: str | None,
    public_key: Any,
) -> None:
    """Register a machine client; it then gets tokens with a signed client assertion."""
    from mailbox.clients import register_client
    from mailbox.models import Role

    async with _database() as database, database.write() as session:
        created = await register_client(
            session=session,
            name=name,
            role=Role(role),
            public_key_pem=public_key.read(),
            office_id=office_id,
            account_id=account_id,
        )
    _emit(ctx, created.model_dump(mode="json"), f"Client {created.name}: client_id {created.id}")


# --- audit ---------------------------------------------------------------------------------


@main.group()
def audit() -> None:
    """Check the evidence log."""


@audit.command("verify")
@click.option("--no-timestamps", is_flag=True, help="Skip checking RFC 3161 tokens (faster).")
@click.pass_context
def audit_verify(ctx: click.Context, no_timestamps: bool) -> None:
    """Re-check every evidence record: hash links, signatures, timestamps, and the head.
    Exits 1 and names the first broken record if the log was tampered with."""
    from rich.progress import Progress

    from mailbox.audit import check_chain
    from mailbox.signing.pki import load_key_material

    settings = _settings()

    async def run() -> tuple[int, Any]:
        keys = load_key_material(settings.effective_key_dir)
        async with _database() as database, database.session() as session:
            with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
                task = progress.add_task("Reading evidence", total=None)
                return await check_chain(
                    session,
                    keys,
                    check_timestamps=not no_timestamps,
                    progress=lambda n: progress.advance(task, n),
                )

    checked, broken = run_domain(run())
    payload: dict[str, Any] = {"ok": broken is None, "checked": checked}
    if broken is None:
        _emit(ctx, payload, f"OK: {checked} evidence records verified.")
        return
    payload["first_broken"] = {"seq": broken.seq, "id": broken.record_id, "reason": broken.reason}
    _emit(
        ctx,
        payload,
        f"BROKEN at record {broken.seq} ({broken.record_id or 'missing'}): "
        f"{broken.reason}. {checked} records before it verified.",
    )
    sys.exit(1)


class _database:
    """An open Database for one CLI command, refusing an un-migrated schema."""

    async def __aenter__(self) -> Any:
        from mailbox.db import Database, assert_migrated

        self.database = Database(_settings().effective_database_url)
        await assert_migrated(self.database)
        return self.database

    async def __aexit__(self, *exc: object) -> None:
        await self.database.dispose()


if __name__ == "__main__":  # pragma: no cover
    main()
