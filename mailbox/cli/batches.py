"""Bulk dispatch from the command line: queue a manifest and its documents (PDFs, ``.json`` or
``.xml`` data documents) as a batch, dispatch its
items here (sharing them with any running worker) and show the progress until it is done."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from pathlib import Path
from typing import Any

import click

from mailbox.cli.base import domain_command, load_settings, main

_CHUNK = 1024 * 1024


@main.group()
def dispatch() -> None:
    """Dispatch documents."""


@dispatch.command("batch")
@click.option("--office", required=True, help="The office dispatching: its code or id.")
@click.option(
    "--format",
    "manifest_format",
    type=click.Choice(["csv", "jsonl"]),
    default=None,
    help="The manifest's format (default: from its file name, .csv or .jsonl).",
)
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Dispatch the items here with a progress bar until the batch is done; --no-wait only "
    "queues it for the service's workers and prints its id.",
)
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("pdfs", metavar="DIR_OR_ZIP", type=click.Path(exists=True, path_type=Path))
@click.pass_context
@domain_command
async def dispatch_batch(
    ctx: click.Context,
    office: str,
    manifest_format: str | None,
    wait: bool,
    manifest: Path,
    pdfs: Path,
) -> None:
    """Queue MANIFEST (CSV or JSON lines: recipient_account_id, kind_code, dossier_number,
    title, filename, office_reference) with its documents (PDFs, or .json and .xml notices;
    a directory or a ZIP) as one batch.
    Exits 0 when every line was delivered, 2 when the manifest is refused (each bad line is
    named) or when some lines were refused (they are listed)."""
    from mailbox.db import assert_migrated
    from mailbox.deliveries.batches import create_batch, new_upload
    from mailbox.identity.admin import find_office
    from mailbox.services import Services

    settings = load_settings()
    services = Services.start(settings)
    try:
        await assert_migrated(services.db)
        async with services.db.session() as session:
            office_id = (await find_office(session=session, office=office)).id
        upload = new_upload(services)
        try:
            await asyncio.to_thread(_store, upload, manifest, pdfs)
        except BaseException:
            upload.discard()
            raise
        batch = await create_batch(
            services,
            upload,
            office_id=office_id,
            actor=f"operator:{getpass.getuser()}",
            declared_format=manifest_format,
        )
        if not wait:
            _report(ctx, _public(batch), f"Batch {batch.id}: {batch.total} documents queued")
            return
        done = await _work_with_progress(services, batch.id, batch.total)
        refused = await _refused(services, batch.id)
    finally:
        await services.close()
    lines = [f"  line {i.line} ({i.office_reference}): {i.problem['detail']}" for i in refused]
    human = f"Batch {done.id} done: {done.accepted} accepted, {done.refused} refused" + (
        "\n" + "\n".join(lines) if lines else ""
    )
    _report(ctx, _public(done), human)
    if done.refused:
        sys.exit(2)


def _store(upload: Any, manifest: Path, pdfs: Path) -> None:
    """Copy the manifest and the documents into the batch's upload, chunk by chunk."""
    _copy(manifest, upload.manifest(manifest.name))
    if pdfs.is_dir():
        for path in sorted(p for p in pdfs.rglob("*") if p.is_file()):
            _copy(path, upload.document(path.relative_to(pdfs).as_posix()))
    else:
        _copy(pdfs, upload.archive())
    upload.close_parts()


def _copy(source: Path, part: Any) -> None:
    with source.open("rb") as file:
        while chunk := file.read(_CHUNK):
            part.write(chunk)
    part.close()


async def _work_with_progress(services: Any, batch_id: str, total: int) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from mailbox.deliveries.batch_runner import work_batches
    from mailbox.deliveries.batches import batch_now
    from mailbox.models import BatchStatus
    from mailbox.operations.scheduling import worker_identity

    async def read() -> Any:
        async with services.db.session() as session:
            return await batch_now(session=session, batch_id=batch_id)

    async def work() -> None:
        # Items another worker holds, or that failed on our side, come back after a while.
        while (await read()).status != BatchStatus.DONE:
            await work_batches(services, worker_id=worker_identity(), batch_id=batch_id)
            await asyncio.sleep(0.5)

    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
        task = bar.add_task("Dispatching", total=total)
        worker = asyncio.create_task(work())
        while True:
            batch = await read()
            bar.update(
                task,
                completed=batch.accepted + batch.refused,
                description=f"Dispatching: {batch.accepted} accepted, {batch.refused} refused",
            )
            if worker.done():
                worker.result()  # raises what stopped it
                return await read()
            await asyncio.sleep(0.25)


async def _refused(services: Any, batch_id: str) -> list[Any]:
    from mailbox.deliveries.batches import refused_items

    async with services.db.session() as session:
        return await refused_items(session=session, batch_id=batch_id)


def _public(batch: Any) -> dict[str, Any]:
    return {
        "id": batch.id,
        "office_id": batch.office_id,
        "status": batch.status,
        "total": batch.total,
        "accepted": batch.accepted,
        "refused": batch.refused,
        "pending": batch.pending,
    }


def _report(ctx: click.Context, payload: dict[str, Any], human: str) -> None:
    if ctx.find_root().params.get("as_json"):
        click.echo(json.dumps(payload, indent=2))
    else:
        click.echo(human)
