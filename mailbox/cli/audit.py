"""Auditing from the command line: the whole evidence log and its checkpoints on the service
(``audit verify``), signing a checkpoint now (``audit checkpoint``), a proof-of-delivery
bundle offline (``audit verify-bundle``, and its legal dates recomputed: ``audit recompute``)
and a transmission's proof offline (``audit verify-transmission``)."""

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
    """Re-check every evidence record (hash links, signatures, timestamps, the head) and every
    signed checkpoint (signature, timestamp, Merkle root of the records it covers). Exits 1 and
    names the first broken record or checkpoint if the log was tampered with."""
    from rich.progress import Progress

    from mailbox.evidence.audit import LogReport, check_log
    from mailbox.signing.pki import load_key_material

    settings = load_settings()

    async def run() -> LogReport:
        keys = load_key_material(settings.effective_key_dir)
        async with open_database() as database, database.session() as session:
            with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
                task = progress.add_task("Reading evidence", total=None)
                return await check_log(
                    session,
                    keys,
                    check_timestamps=not no_timestamps,
                    progress=lambda n: progress.advance(task, n),
                )

    report: LogReport = run_domain(run())
    checked, broken, bad = report.checked, report.broken, report.bad_checkpoint
    payload: dict[str, Any] = {
        "ok": report.ok,
        "checked": checked,
        "checkpoints_checked": report.checkpoints_checked,
    }
    lines = []
    if broken is not None:
        payload["first_broken"] = {
            "seq": broken.seq,
            "id": broken.record_id,
            "reason": broken.reason,
        }
        lines.append(
            f"BROKEN at record {broken.seq} ({broken.record_id or 'missing'}): "
            f"{broken.reason}. {checked} records before it verified."
        )
    checkpoints = _count(report.checkpoints_checked, "checkpoint")
    if bad is not None:
        payload["first_bad_checkpoint"] = {"seq": bad.seq, "reason": bad.reason}
        lines.append(
            f"BROKEN checkpoint of {bad.seq} records: {bad.reason}. "
            f"{checkpoints} before it verified."
        )
    if report.unchecked_checkpoints:
        payload["unchecked_checkpoints"] = report.unchecked_checkpoints
        lines.append(
            f"{_count(report.unchecked_checkpoints, 'checkpoint')} covering the broken "
            "record not checked."
        )
    if report.ok:
        lines.append(f"OK: {checked} evidence records and {checkpoints} verified.")
    emit(ctx, payload, "\n".join(lines))
    if not report.ok:
        sys.exit(1)


@audit.command("checkpoint")
@click.pass_context
def audit_checkpoint(ctx: click.Context) -> None:
    """Sign a checkpoint of the evidence log now: the Merkle root of all records so far, signed
    by the evidence key and timestamped. Prints the newest checkpoint, and whether it was made
    now (nothing is made when no record was added since the last one)."""
    from mailbox.evidence.checkpoints import latest_checkpoint, make_checkpoint
    from mailbox.services import Services
    from mailbox.timefmt import rfc3339

    settings = load_settings()

    async def run() -> tuple[bool, Any]:
        async with open_database():  # refuses an un-migrated database
            pass
        services = Services.start(settings, sealing_workers=0)
        try:
            made = await make_checkpoint(services, leader_only=False)
            if made is not None:
                return True, made
            async with services.db.session() as session:
                return False, await latest_checkpoint(session=session)
        finally:
            await services.close()

    made, checkpoint = run_domain(run())
    if checkpoint is None:
        emit(ctx, {"made": False, "checkpoint": None}, "The evidence log is empty: no checkpoint.")
        return
    body = {
        "seq": checkpoint.seq,
        "root_hash": checkpoint.root_hash,
        "created_at": rfc3339(checkpoint.created_at),
    }
    what = "Made a checkpoint" if made else "No new records since the newest checkpoint,"
    emit(
        ctx,
        {"made": made, "checkpoint": body},
        f"{what} of {checkpoint.seq} records at {body['created_at']}: root {checkpoint.root_hash}",
    )


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
    document, each evidence record's hash, signature and timestamp, their order, the signed log
    checkpoint and each record's inclusion proof in it, the receipt.
    Exits 1 if a check fails, 2 if the file is no proof bundle; never with a traceback (a
    crafted part fails its check by name)."""
    from mailbox.proof.check import InputUnreadable, load_trust_root, verify_bundle

    try:
        trust_root = load_trust_root(root_pem.read_bytes())
        report = verify_bundle(path.read_bytes(), trust_root=trust_root)
    except OSError as exc:
        click.echo(f"Error: cannot read {exc.filename}: {exc.strerror}", err=True)
        sys.exit(2)
    except InputUnreadable as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except Exception as exc:
        # Every part of a bundle is checked on its own and a crash there is a failed check;
        # whatever escapes still ends in one line and an exit code, never a traceback.
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        click.echo(f"Error: the bundle could not be verified ({detail})", err=True)
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


@audit.command("verify-transmission")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--root",
    "root_pem",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The service's root certificate (PEM), from the service: never the proof's own copy.",
)
@click.pass_context
def audit_verify_transmission(ctx: click.Context, path: Path, root_pem: Path) -> None:
    """Verify a transmission's proof offline against the root certificate alone: each hop's
    proof of delivery, and the chain (one package, each hop forwarded from the one before,
    each hub's signed receipt). Exits 1 if a check fails, 2 if the file is no such proof."""
    from mailbox.proof.check import InputUnreadable, load_trust_root
    from mailbox.proof.check_transmission import verify_transmission_bundle

    try:
        trust_root = load_trust_root(root_pem.read_bytes())
        report = verify_transmission_bundle(path.read_bytes(), trust_root=trust_root)
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
        f"OK: the transmission {report.transmission_id} verifies against the given root."
        if report.ok
        else f"FAILED: {len(failed)} check(s) failed: {', '.join(failed)}."
    )
    emit(ctx, report.as_dict(), "\n".join(lines))
    if not report.ok:
        sys.exit(1)


# Exit codes of `audit recompute`.
AGREES, DISAGREES, UNREADABLE, NOT_VERIFIED = 0, 1, 2, 3


@audit.command("recompute")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--root",
    "root_pem",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The service's root certificate (PEM), from the service: never the bundle's own copy.",
)
@click.pass_context
def audit_recompute(ctx: click.Context, path: Path, root_pem: Path) -> None:
    """Recompute the legal delivery date from a proof bundle alone, offline and without the
    database: verify the bundle as `audit verify-bundle` does, then run the legal clock again
    on the rule, time zone and events recorded with each legal date in it (the signed records
    and the bundle's summary, which the sealed receipt states) and say whether the date and
    the sentence agree. Exits 0 if they all agree, 1 if one does not, 2 if the file is no
    readable proof bundle, 3 if the bundle fails verification (altered: nothing is
    recomputed from it)."""
    from mailbox.proof.check import InputUnreadable, load_trust_root
    from mailbox.proof.recompute import recompute_bundle

    try:
        trust_root = load_trust_root(root_pem.read_bytes())
        report = recompute_bundle(path.read_bytes(), trust_root=trust_root)
    except OSError as exc:
        click.echo(f"Error: cannot read {exc.filename}: {exc.strerror}", err=True)
        sys.exit(UNREADABLE)
    except InputUnreadable as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(UNREADABLE)
    except Exception as exc:
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        click.echo(f"Error: the bundle could not be recomputed ({detail})", err=True)
        sys.exit(UNREADABLE)
    if not report.verified:
        failed = report.verification.failed()
        emit(
            ctx,
            report.as_dict(),
            f"NOT VERIFIED: the proof of delivery {report.delivery_id} fails "
            f"{_count(len(failed), 'check')} ({', '.join(failed)}); nothing was recomputed "
            "from it. `audit verify-bundle` says more.",
        )
        sys.exit(NOT_VERIFIED)
    lines = ["✓ bundle verified against the given root"]
    for result in report.results:
        sentence = result.recorded.get("sentence")
        lines.append(f"{'✓' if result.agrees else '✗'} {result.where}: {sentence}")
        lines += [f"    {problem}" for problem in result.problems]
    lines += [f"  note: {note}" for note in report.notes]
    if report.agrees:
        lines.append(
            f"AGREES: the legal clock gives the same date and sentence again for "
            f"{_count(len(report.results), 'recorded legal date')} of {report.delivery_id}."
        )
    else:
        wrong = [r.where for r in report.results if not r.agrees]
        lines.append(
            "DISAGREES: "
            + (f"{', '.join(wrong)} differ(s) from the legal clock's answer." if wrong else "")
            + ("" if report.results else "the bundle records no legal date to recompute.")
        )
    emit(ctx, report.as_dict(), "\n".join(lines))
    if not report.agrees:
        sys.exit(DISAGREES)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
