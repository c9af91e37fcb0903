"""Retention from the command line: how long content and evidence are kept per office and
document kind (``retention set|list|clear``), and the purge run now (``retention purge``)."""

from __future__ import annotations

from typing import Any

import click

from mailbox.cli.base import domain_command, emit, load_settings, main, open_database, run_domain
from mailbox.timefmt import rfc3339


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
