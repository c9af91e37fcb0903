"""Operating an install: the outbox's pending and dead messages (``outbox list|retry``),
backups (``backup create|restore``) and retention (``retention set|list|clear|purge``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from mailbox.cli.base import domain_command, emit, load_settings, main, open_database, run_domain
from mailbox.timefmt import rfc3339, rfc3339_or_none

# --- shared --------------------------------------------------------------------------------


def _refuse(message: str) -> NoReturn:
    """Bad input: one line on stderr, exit 2, nothing done."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


def _age(since: datetime, at: datetime) -> str:
    seconds = max(int((at - since).total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@contextmanager
def _progress_bar() -> Iterator[Any]:
    """A progress callback ``(stage, done, total)`` drawing one bar per stage on stderr, when
    stderr is a terminal (never in ``--json`` output or logs)."""
    from rich.console import Console
    from rich.progress import Progress

    tasks: dict[str, Any] = {}
    with Progress(
        console=Console(stderr=True), transient=True, disable=not sys.stderr.isatty()
    ) as bar:

        def advance(stage: str, done: int, total: int) -> None:
            # A total of 0: not known in advance (the bar pulses).
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage.capitalize(), total=total or None)
            bar.update(tasks[stage], completed=done, total=total or None)

        yield advance


# --- outbox --------------------------------------------------------------------------------


@main.group()
def outbox() -> None:
    """Outbox messages waiting to be sent, or dead."""


@outbox.command("list")
@click.option("--dead", "which", flag_value="dead", help="Messages that failed for good.")
@click.option("--pending", "which", flag_value="pending", help="Messages waiting to be sent.")
@click.option(
    "--channel", type=click.Choice(["email", "webhook", "paper"]), default=None, help="Only one."
)
@click.option("--limit", type=click.IntRange(1, 10000), default=100, show_default=True)
@click.pass_context
def outbox_list(ctx: click.Context, which: str | None, channel: str | None, limit: int) -> None:
    """List dead or pending messages, oldest first: id, channel, kind, attempts, age, last
    error (and when a pending one is due)."""
    if which is None:
        _refuse("say which messages: --dead or --pending")
    from mailbox.clock import now
    from mailbox.models import Channel, OutboxStatus
    from mailbox.notifications.dead_letters import list_messages

    async def run() -> Any:
        async with open_database() as database, database.session() as session:
            return await list_messages(
                session=session,
                status=OutboxStatus(which),
                channel=Channel(channel) if channel else None,
                limit=limit,
            )

    messages, total = run_domain(run())
    at = now()
    items = [
        {
            "id": m.id,
            "channel": m.channel,
            "kind": m.kind,
            "attempts": m.attempts,
            "age_seconds": int((at - m.created_at).total_seconds()),
            "created_at": rfc3339(m.created_at),
            "next_attempt_at": rfc3339(m.next_attempt_at) if which == "pending" else None,
            "done_at": rfc3339_or_none(m.done_at),
            "last_error": m.last_error,
            "delivery_id": m.delivery_id,
            "account_id": m.account_id,
        }
        for m in messages
    ]
    lines = [f"{total} {which} message(s)" + (f", the oldest {len(items)}:" if items else ".")]
    for m in messages:
        due = (
            f" due {_age(at, m.next_attempt_at)}"
            if which == "pending" and m.next_attempt_at > at
            else ""
        )
        lines.append(
            f"{m.id}  {m.channel:<7} {m.kind:<22} attempts {m.attempts:<2} age "
            f"{_age(m.created_at, at):<5}{due}  {m.last_error or ''}"
        )
    emit(ctx, {"status": which, "total": total, "items": items}, "\n".join(lines))


@outbox.command("retry")
@click.argument("message_id", required=False)
@click.option("--all-dead", is_flag=True, help="Every dead message.")
@click.pass_context
def outbox_retry(ctx: click.Context, message_id: str | None, all_dead: bool) -> None:
    """Put a dead message (or, with --all-dead, every one) back in the queue: pending again,
    attempts reset, due now. Each one is logged. Fix the cause first (the recipient's address,
    the webhook receiver)."""
    if (message_id is None) == (not all_dead):
        _refuse("give one message id or --all-dead, not both")
    import getpass

    from mailbox.clock import now
    from mailbox.logs import configure_logging
    from mailbox.notifications.dead_letters import requeue_dead

    settings = load_settings()
    configure_logging(settings.log_level)

    async def run() -> Any:
        async with open_database() as database, database.write() as session:
            return await requeue_dead(
                session=session,
                at=now(),
                message_id=message_id,
                actor=f"operator:{getpass.getuser()}",
            )

    retried = run_domain(run())
    ids = [m.id for m in retried]
    human = (
        f"{len(ids)} dead message(s) back in the queue: {', '.join(ids)}"
        if ids
        else "No dead messages."
    )
    emit(ctx, {"retried": ids}, human)


# --- backups -------------------------------------------------------------------------------


@main.group()
def backup() -> None:
    """Back up an install and restore it."""


@backup.command("create")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def backup_create(ctx: click.Context, directory: Path) -> None:
    """Back up the database (SQLite: a consistent snapshot taken while the service runs), the
    blobs and the keys into DIRECTORY (new or empty), with a manifest of SHA-256 hashes. On
    PostgreSQL, run the pg_dump command it prints into DIRECTORY first."""
    from mailbox.operations.backup import create_backup

    settings = load_settings()
    with _progress_bar() as progress:
        report = _run_refusals(lambda: create_backup(settings, directory, progress=progress))
    database = report.database
    payload = {
        "directory": str(report.directory),
        "created_at": report.created_at,
        "database": database,
        "files": report.files,
        "bytes": report.size,
        "vanished_blobs": report.vanished,
    }
    lines = [f"Backup of {report.files} files ({report.size} bytes) in {report.directory}."]
    if database["backend"] == "sqlite":
        lines.append(
            f"Database: a snapshot at schema {database['schema_revision']} with "
            f"{database['evidence_records']} evidence records."
        )
    elif database["included"]:
        lines.append("Database: the pg_dump found in the directory, listed in the manifest.")
    else:
        lines.append(
            "The PostgreSQL database is NOT in this backup: back it up with pg_dump, into the "
            "new backup directory BEFORE running `backup create` on it (the dump first, so that "
            f"every document it names has its blob in the backup):\n  {database['command']}"
        )
    if report.vanished:
        lines.append(f"{report.vanished} blob(s) were shredded by the retention purge meanwhile.")
    emit(ctx, payload, "\n".join(lines))


@backup.command("restore")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--data-dir",
    "data_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The new install's data directory (new or empty).",
)
@click.pass_context
def backup_restore(ctx: click.Context, directory: Path, data_dir: Path) -> None:
    """Restore the backup in DIRECTORY as a new install in --data-dir: refuses a directory
    that is not empty, checks every file against the manifest before writing anything, then
    runs `audit verify` on the restored evidence log (exit 1 if it fails)."""
    from mailbox.operations.backup import restore_backup, restored_settings

    with _progress_bar() as progress:
        report = _run_refusals(lambda: restore_backup(directory, data_dir, progress=progress))
    payload: dict[str, Any] = {
        "data_dir": str(report.data_dir),
        "backup_created_at": report.backup_created_at,
        "files": report.files,
        "bytes": report.size,
        "notes": report.notes,
        "audit": None,
    }
    lines = [f"Restored {report.files} files from {directory} into {report.data_dir}."]
    audit_ok = True
    if report.database.get("backend") == "sqlite":
        with _progress_bar() as progress:
            audit = run_domain(_verify_restored(restored_settings(data_dir), progress))
        audit_ok = audit["ok"]
        payload["audit"] = audit
        lines.append(
            f"audit verify: OK, {audit['checked']} evidence records and "
            f"{audit['checkpoints_checked']} checkpoints verified."
            if audit_ok
            else f"audit verify FAILED: {audit['reason']}. Do not serve from this install."
        )
        if audit_ok:
            lines.append(f"Serve it with MAILBOX_DATA_DIR={data_dir} python -m mailbox serve")
    lines += report.notes
    emit(ctx, payload, "\n".join(lines))
    if not audit_ok:
        sys.exit(1)


async def _verify_restored(settings: Any, progress: Any) -> dict[str, Any]:
    """Migrate the restored database if it is older than the code, then check its log."""
    from mailbox.db import Database, run_migrations
    from mailbox.evidence.audit import check_log
    from mailbox.signing.pki import load_key_material

    run_migrations(settings.effective_database_url)
    keys = load_key_material(settings.effective_key_dir)
    database = Database(settings.effective_database_url)
    checked = 0

    def advance(n: int) -> None:
        nonlocal checked
        checked += n
        progress("auditing", checked, 0)

    try:
        async with database.session() as session:
            report = await check_log(session, keys, progress=advance)
    finally:
        await database.dispose()
    reason = None
    if report.broken is not None:
        reason = f"record {report.broken.seq}: {report.broken.reason}"
    elif report.bad_checkpoint is not None:
        reason = (
            f"checkpoint of {report.bad_checkpoint.seq} records: {report.bad_checkpoint.reason}"
        )
    return {
        "ok": report.ok,
        "checked": report.checked,
        "checkpoints_checked": report.checkpoints_checked,
        "reason": reason,
    }


def _run_refusals(work: Any) -> Any:
    """Run blocking ``work``; a domain refusal is one line on stderr and exit 2."""
    from mailbox.errors import MailboxError

    try:
        return work()
    except MailboxError as exc:
        click.echo(f"Error: {exc.detail}", err=True)
        sys.exit(2 if exc.status_code < 500 else 1)
    except OSError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)


# --- retention -----------------------------------------------------------------------------


@main.group()
def retention() -> None:
    """How long content and evidence are kept, per office and document kind."""


def _retention_json(row: Any) -> dict[str, Any]:
    return {
        "office": row.office_code,
        "kind": row.policy.kind_code,
        "documents_days": row.policy.document_days,
        "evidence_days": row.policy.evidence_days,
        "effective": {
            "documents_days": row.effective.document_days,
            "documents_from": row.effective.document_source,
            "evidence_days": row.effective.evidence_days,
            "evidence_from": row.effective.evidence_source,
        },
        "updated_at": rfc3339(row.policy.updated_at),
    }


def _retention_line(row: Any) -> str:
    kind = "every kind" if row.policy.kind_code == "*" else f"kind {row.policy.kind_code}"
    e = row.effective
    return (
        f"office {row.office_code}, {kind}: content {e.document_days} days ({e.document_source}),"
        f" evidence {e.evidence_days} days ({e.evidence_source})"
    )


@retention.command("set")
@click.option("--office", required=True, help="Office code or id.")
@click.option("--kind", default=None, help="Document kind code (default: every kind).")
@click.option("--documents-days", type=int, default=None, help="Days content is kept.")
@click.option("--evidence-days", type=int, default=None, help="Days evidence is kept.")
@click.pass_context
@domain_command
async def retention_set(
    ctx: click.Context,
    office: str,
    kind: str | None,
    documents_days: int | None,
    evidence_days: int | None,
) -> None:
    """Set how long an office's documents (of one kind, or every kind) are kept after their
    delivery became final, and their evidence. Values not given fall back to the office-wide
    setting, then to MAILBOX_RETENTION_DOCUMENT_DAYS / MAILBOX_RETENTION_EVIDENCE_DAYS."""
    from mailbox.deliveries.retention import set_policy

    settings = load_settings()
    async with open_database(settings) as database, database.write() as session:
        row = await set_policy(
            session=session,
            settings=settings,
            office=office,
            kind_code=kind,
            document_days=documents_days,
            evidence_days=evidence_days,
        )
    emit(ctx, _retention_json(row), _retention_line(row))


@retention.command("list")
@click.option("--office", default=None, help="Only this office (code or id).")
@click.pass_context
@domain_command
async def retention_list(ctx: click.Context, office: str | None) -> None:
    """The retention periods set per office and kind, and the defaults."""
    from mailbox.deliveries.retention import list_policies

    settings = load_settings()
    async with open_database(settings) as database, database.session() as session:
        rows = await list_policies(session=session, settings=settings, office=office)
    defaults = {
        "documents_days": settings.retention_document_days,
        "evidence_days": settings.retention_evidence_days,
    }
    lines = [
        f"Default: content {defaults['documents_days']} days, evidence "
        f"{defaults['evidence_days']} days after the delivery became final."
    ] + [_retention_line(row) for row in rows]
    emit(
        ctx,
        {"defaults": defaults, "policies": [_retention_json(r) for r in rows]},
        "\n".join(lines),
    )


@retention.command("clear")
@click.option("--office", required=True, help="Office code or id.")
@click.option("--kind", default=None, help="Document kind code (default: the office-wide row).")
@click.pass_context
@domain_command
async def retention_clear(ctx: click.Context, office: str, kind: str | None) -> None:
    """Remove an office's own retention period (for one kind, or the office-wide one)."""
    from mailbox.deliveries.retention import clear_policy

    async with open_database() as database, database.write() as session:
        await clear_policy(session=session, office=office, kind_code=kind)
    what = f"kind {kind}" if kind else "every kind"
    emit(
        ctx,
        {"cleared": True, "office": office, "kind": kind or "*"},
        f"Cleared {what} of {office}.",
    )


@retention.command("purge")
@click.pass_context
def retention_purge(ctx: click.Context) -> None:
    """Run the purge job now (the scheduler runs it every MAILBOX_RETENTION_INTERVAL_SECONDS):
    crypto-shred the content of final deliveries past their retention period."""
    from mailbox.deliveries.purge import purge_expired
    from mailbox.services import Services

    settings = load_settings()

    async def run() -> Any:
        async with open_database(settings):
            pass
        services = Services.start(settings, sealing_workers=0)
        try:
            return await purge_expired(services)
        finally:
            await services.close()

    report = run_domain(run())
    emit(
        ctx,
        {"purged": report.purged, "shredded": report.shredded, "not_leader": report.not_leader},
        "Another instance is purging right now; nothing done."
        if report.not_leader
        else f"{report.purged} content(s) purged, {report.shredded} blob(s) shredded.",
    )
