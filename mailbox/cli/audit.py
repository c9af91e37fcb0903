"""Auditing the evidence log from the command line."""

from __future__ import annotations

import sys
from typing import Any

import click

from mailbox.cli.base import emit, load_settings, main, open_database, run_domain

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

    settings = load_settings()

    async def run() -> tuple[int, Any]:
        keys = load_key_material(settings.effective_key_dir)
        async with open_database() as database, database.session() as session:
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
        emit(ctx, payload, f"OK: {checked} evidence records verified.")
        return
    payload["first_broken"] = {"seq": broken.seq, "id": broken.record_id, "reason": broken.reason}
    emit(
        ctx,
        payload,
        f"BROKEN at record {broken.seq} ({broken.record_id or 'missing'}): "
        f"{broken.reason}. {checked} records before it verified.",
    )
    sys.exit(1)
