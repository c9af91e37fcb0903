"""Paper from the command line: ``paper batch`` builds the print batches now (each office's
letters not yet in one), as the daily job does at ``MAILBOX_PAPER_BATCH_HOUR_UTC``."""

from __future__ import annotations

from typing import Any

import click

from mailbox.cli.base import emit, load_settings, main, open_database, progress_bar, run_domain


@main.group()
def paper() -> None:
    """Paper letters and print batches."""


@paper.command("batch")
@click.option("--office", "office_ref", default=None, help="Only this office (id or code).")
@click.pass_context
def paper_batch(ctx: click.Context, office_ref: str | None) -> None:
    """Merge the letters not yet printed into one sealed print batch per office (with its
    manifest), showing progress; print what was built."""
    from mailbox.identity.admin import find_office
    from mailbox.models import PrintBatch
    from mailbox.paper.batches import build_print_batches
    from mailbox.services import Services

    settings = load_settings()

    async def run() -> list[PrintBatch]:
        office_id = None
        async with open_database(settings) as database:  # refuses an un-migrated database
            if office_ref is not None:
                async with database.session() as session:
                    office_id = (await find_office(session=session, office=office_ref)).id
        services = Services.start(settings, sealing_workers=0)
        try:
            with progress_bar() as advance:
                state = {"done": 0, "total": 0}

                def total(n: int) -> None:
                    state["total"] = n
                    advance("merging letters", 0, n)

                def one(n: int) -> None:
                    state["done"] += n
                    advance("merging letters", state["done"], state["total"])

                return await build_print_batches(
                    services, actor="cli", office_id=office_id, progress=one, on_total=total
                )
        finally:
            await services.close()

    batches: list[PrintBatch] = run_domain(run())
    payload: dict[str, Any] = {
        "batches": [
            {
                "id": b.id,
                "office_id": b.office_id,
                "letters": b.letters,
                "pages": b.pages,
                "sha256": b.blob_id,
            }
            for b in batches
        ]
    }
    lines = [
        f"{b.id}: {b.letters} letters, {b.pages} pages (office {b.office_id})" for b in batches
    ]
    emit(ctx, payload, "\n".join(lines) or "No letters waiting for a print batch.")
