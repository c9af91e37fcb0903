"""The clock of a demo or test install: move it forward and run the jobs that fell due
(``clock advance 7d``), or show how far it travelled (``clock show``)."""

from __future__ import annotations

import sys
from datetime import timedelta

import click

from mailbox.cli.base import emit, load_settings, main, open_database, refuse, run_domain

# Exit code of a refused travel: the install is no demo or test install.
NOT_A_TEST_INSTALL = 3


@main.group("clock")
def clock_group() -> None:
    """The service's clock (demo and test installs may move it forward)."""


@clock_group.command("advance")
@click.argument("duration")
@click.pass_context
def clock_advance(ctx: click.Context, duration: str) -> None:
    """Move the clock of a demo or test install forward by DURATION (7d, 12h, 30m) and run the
    jobs that fell due: deemed delivery, reminders, and the outbox (their emails; paper for
    deliveries whose alerts fail for good). The running service follows the same clock.
    Refused (exit 3) on any other install; exit 2 for a bad duration."""
    from mailbox.operations.time_travel import advance, parse_duration, refusal
    from mailbox.timefmt import rfc3339

    try:
        by = parse_duration(duration)
    except ValueError as exc:
        refuse(str(exc))
    settings = load_settings()
    reason = refusal(settings)
    if reason is not None:
        click.echo(f"Refused: {reason}", err=True)
        sys.exit(NOT_A_TEST_INSTALL)

    async def run():
        async with open_database(settings):  # refuses an un-migrated database
            pass
        return await advance(settings, by)

    from rich.console import Console

    console = Console(stderr=True)
    try:
        # A spinner on a terminal only (never in --json output or logs): the scans and the
        # drain take as long as there are deliveries due.
        if sys.stderr.isatty():
            with console.status("Moving the clock and running the jobs that fell due..."):
                report = run_domain(run())
        else:
            report = run_domain(run())
    except ValueError as exc:  # the travel file is not ours to read
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    sending = (
        f"outbox: {report.sent} message(s) sent, {report.relayed_to_paper} delivery(ies) "
        "relayed to paper"
        if report.drained
        else "outbox: the running service sends them at its next round"
    )
    emit(
        ctx,
        {
            "advanced_by_seconds": report.by.total_seconds(),
            "travelled_seconds": report.travelled.total_seconds(),
            "now": rfc3339(report.now),
            "deemed_delivered": report.deemed_delivered,
            "reminders": report.reminders,
            "sent": report.sent,
            "relayed_to_paper": report.relayed_to_paper,
            "drained": report.drained,
        },
        f"Clock advanced by {duration.strip()}: it is now {rfc3339(report.now)} "
        f"({_span(report.travelled)} ahead of real time).\n"
        f"Due jobs run: {report.deemed_delivered} deemed delivered, {report.reminders} "
        f"reminder(s) queued; {sending}.",
    )


@clock_group.command("show")
@click.pass_context
def clock_show(ctx: click.Context) -> None:
    """Print the service's time and how far this install travelled ahead of real time."""
    from mailbox import clock
    from mailbox.timefmt import rfc3339

    settings = load_settings()
    try:
        ahead = clock.travelled(settings.clock_travel_file)
    except ValueError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    if settings.clock_travel_allowed:
        clock.follow(settings.clock_travel_file)
    emit(
        ctx,
        {
            "now": rfc3339(clock.now()),
            "travelled_seconds": ahead.total_seconds(),
            "travel_allowed": settings.clock_travel_allowed,
        },
        f"It is {rfc3339(clock.now())} for this install ({_span(ahead)} ahead of real time; "
        f"time travel {'allowed' if settings.clock_travel_allowed else 'refused'} here).",
    )


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    return f"{days}d {hours}h {minutes}m"
