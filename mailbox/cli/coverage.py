"""A hub's coverage from the command line: upload its list of expected items (``coverage
upload HUB FILE``) and print its report for a period (``coverage report HUB --from --to``, as
a table, ``--csv`` or ``--json``). The operator acts for the hub: no person's grant is asked."""

from __future__ import annotations

from pathlib import Path

import click

from mailbox.cli.base import domain_command, emit, main, open_database, refuse


@main.group("coverage")
def coverage_group() -> None:
    """What a hub office expects from the offices that owe it items, and what arrived."""


@coverage_group.command("upload")
@click.argument("hub", metavar="HUB")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    default=None,
    help="The list's format; by default its name says (.csv, .jsonl or .ndjson).",
)
@click.pass_context
@domain_command
async def coverage_upload(ctx: click.Context, hub: str, file: Path, fmt: str | None) -> None:
    """Save the list FILE (CSV with the header sender,kind,international_application_number,
    due_on, or JSON lines) as what HUB (its id or code) expects. A bad line refuses the whole
    list (exit 2, each bad line named) and nothing is saved."""
    from mailbox.clock import now
    from mailbox.coverage.expected import read_expected_list, upload_expected
    from mailbox.coverage.rule import local_day
    from mailbox.identity.admin import find_office

    if fmt is None:
        name = file.name.lower()
        fmt = (
            "csv"
            if name.endswith(".csv")
            else "jsonl"
            if name.endswith((".jsonl", ".ndjson"))
            else None
        )
        if fmt is None:
            refuse("Say the list's format with --format (csv or jsonl), or name it .csv or .jsonl")
    try:
        data = file.read_bytes()
    except OSError as exc:
        refuse(f"Cannot read {file}: {exc.strerror or exc}")
    async with open_database() as database, database.write() as session:
        office = await find_office(session=session, office=hub)
        rows = read_expected_list(data, fmt, today=local_day(now(), office.time_zone))
        counts = await upload_expected(session=session, hub=office, rows=rows)
    emit(
        ctx,
        {
            "hub": office.code,
            "added": counts.added,
            "updated": counts.updated,
            "unchanged": counts.unchanged,
        },
        f"{office.code}: {counts.added} added, {counts.updated} updated, "
        f"{counts.unchanged} unchanged",
    )


@coverage_group.command("report")
@click.argument("hub", metavar="HUB")
@click.option("--from", "period_from", default=None, help="First due day (YYYY-MM-DD).")
@click.option("--to", "period_to", default=None, help="Last due day (YYYY-MM-DD).")
@click.option("--sender", default=None, help="Only the items of this sending office.")
@click.option("--csv", "as_csv", is_flag=True, help="Print one CSV row per expected item.")
@click.pass_context
@domain_command
async def coverage_report(
    ctx: click.Context,
    hub: str,
    period_from: str | None,
    period_to: str | None,
    sender: str | None,
    as_csv: bool,
) -> None:
    """Print what HUB (its id or code) expected with a due date in the period (the current
    month without one): each sending office's items on time, late, missing and pending, each
    item, and what arrived unexpected. The same report as the API's and the page's."""
    import msgspec

    from mailbox.api.schemas.coverage import CoveragePublic
    from mailbox.clock import now
    from mailbox.coverage.report import coverage, coverage_csv, period_of, sender_of
    from mailbox.coverage.rule import WORDS, local_day
    from mailbox.identity.admin import find_office

    async with open_database() as database, database.session() as session:
        office = await find_office(session=session, office=hub)
        at = now()
        first, last = period_of(period_from, period_to, today=local_day(at, office.time_zone))
        report = await coverage(
            session=session,
            hub=office,
            period_from=first,
            period_to=last,
            sender=sender_of(sender),
            at=at,
        )
    if as_csv:
        click.echo(coverage_csv(report), nl=False)
        return
    lines = [f"{office.code} ({office.time_zone}), due from {first} to {last}:"]
    for counts in report.senders:
        lines.append(
            f"  {counts.sender}: {counts.expected} expected, {counts.on_time} on time, "
            f"{counts.late} late, {counts.missing} missing, {counts.pending} pending"
        )
    for item in report.items:
        lines.append(
            f"  {item.sender} {item.international_application_number} {item.kind} "
            f"due {item.due_on}: {WORDS[item.status]}"
        )
    lines.append(f"  {len(report.unexpected)} received but not expected")
    emit(ctx, msgspec.to_builtins(CoveragePublic.of(report)), "\n".join(lines))
