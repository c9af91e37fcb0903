"""The blob store from the command line: ``blobs sweep`` removes what failed or killed writes
left behind (stale temporary files, orphan blobs), as the scheduler does every
``MAILBOX_BLOB_SWEEP_INTERVAL_SECONDS``."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from mailbox.cli.base import emit, load_settings, main, open_database, run_domain


@main.group()
def blobs() -> None:
    """The encrypted document store."""


@blobs.command("sweep")
@click.option("--dry-run", is_flag=True, help="Count what would be removed; remove nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.pass_context
def blobs_sweep(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
    """Remove temporary files older than an hour and orphan blobs (referenced by no document)
    older than MAILBOX_BLOB_ORPHAN_GRACE_SECONDS, and print how many (and how many bytes)."""
    from rich.progress import Progress

    from mailbox.operations.blob_sweep import SweepReport, sweep_blobs
    from mailbox.services import Services

    settings = load_settings()

    async def run() -> SweepReport:
        async with open_database(settings):  # refuses an un-migrated database
            pass
        services = Services.start(settings, sealing_workers=0)
        try:
            with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
                task = progress.add_task("Sweeping the blob store", total=None)
                return await sweep_blobs(
                    services, dry_run=dry_run, progress=lambda n: progress.advance(task, n)
                )
        finally:
            await services.close()

    report: SweepReport = run_domain(run())
    payload: dict[str, Any] = report.as_dict()
    verb = "would remove" if dry_run else "removed"
    human = (
        f"Looked at {report.scanned} files: {verb} {report.temp_removed} temporary files "
        f"({report.temp_bytes} bytes) and {report.orphans_removed} orphan blobs "
        f"({report.orphan_bytes} bytes); kept {report.referenced} referenced blobs and "
        f"{report.within_grace} younger than the grace period."
    )
    if as_json:
        click.echo(json.dumps(payload, indent=2))
    else:
        emit(ctx, payload, human)
