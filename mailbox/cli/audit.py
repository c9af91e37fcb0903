"""Auditing from the command line: the whole evidence log on the service (``audit verify``), and
a proof-of-delivery bundle offline (``audit verify-bundle``)."""

from __future__ import annotations

import sys
from pathlib import Path
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


@audit.command("verify-bundle")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--root",
    "root_pem",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The service's root certificate (PEM), from the service: never the bundle's own copy.",
)
@click.pass_context
def audit_verify_bundle(ctx: click.Context, path: Path, root_pem: Path) -> None:
    """Verify a proof-of-delivery bundle offline against the root certificate alone: the sealed
    document, each evidence record's hash, signature and timestamp, their order, the receipt.
    Exits 1 if a check fails, 2 if the file is no proof bundle."""
    from mailbox.proof_check import InputUnreadable, load_trust_root, verify_bundle

    try:
        trust_root = load_trust_root(root_pem.read_bytes())
        report = verify_bundle(path.read_bytes(), trust_root=trust_root)
    except OSError as exc:
        click.echo(f"Error: cannot read {exc.filename}: {exc.strerror}", err=True)
        sys.exit(2)
    except InputUnreadable as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    lines = [f"{'✓' if f.passed else '✗'} {f.check}: {f.detail}" for f in report.findings]
    lines += [f"  note: {note}" for note in report.notes]
    failed = report.failed()
    lines.append(
        f"OK: the proof of delivery {report.delivery_id} verifies against the given root."
        if report.ok
        else f"FAILED: {len(failed)} check(s) failed: {', '.join(failed)}."
    )
    emit(ctx, report.as_dict(), "\n".join(lines))
    if not report.ok:
        sys.exit(1)
