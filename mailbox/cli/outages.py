"""The legal clock's calendars and outages from the command line: an office's calendar of
closed days (``office calendar``), and certified outages (``outage record``, ``outage list``,
``outage certificate``)."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from mailbox.cli.admin import office
from mailbox.cli.base import domain_command, emit, load_settings, main, open_database, refuse

# --- office calendar -------------------------------------------------------------------------


def _dates(values: tuple[str, ...], option: str) -> list[date]:
    try:
        return [date.fromisoformat(v) for v in values]
    except ValueError:
        refuse(f"{option} takes ISO dates, e.g. 2026-12-24")


@office.command("calendar")
@click.argument("office_ref", metavar="OFFICE")
@click.option(
    "--country", default=None, help="ISO 3166-1 alpha-2 code whose public holidays apply, e.g. DE."
)
@click.option("--subdivision", default=None, help="With --country: a state or region, e.g. BY.")
@click.option(
    "--closed", multiple=True, help="An extra day the office is closed (YYYY-MM-DD); repeatable."
)
@click.option(
    "--reopen", multiple=True, help="Remove an extra closed day (YYYY-MM-DD); repeatable."
)
@click.option("--none", "remove", is_flag=True, help="Drop the office's calendar.")
@click.pass_context
@domain_command
async def office_calendar(
    ctx: click.Context,
    office_ref: str,
    country: str | None,
    subdivision: str | None,
    closed: tuple[str, ...],
    reopen: tuple[str, ...],
    remove: bool,
) -> None:
    """Set the calendar of days OFFICE (its id or code) is closed: weekends, the public
    holidays of a country (and subdivision), and its own closed days; without options, print
    it with the closed days of the coming year. Whether a date on a closed day moves is the
    rule's to say; deliveries already made keep the calendar they were made with."""
    from mailbox.clock import now
    from mailbox.deliveries.clock_rules import calendar_of, set_office_calendar
    from mailbox.identity.admin import find_office

    close, opened = _dates(closed, "--closed"), _dates(reopen, "--reopen")
    async with open_database() as database, database.write() as session:
        if country or subdivision or close or opened or remove:
            await set_office_calendar(
                session=session,
                office=office_ref,
                country=country,
                subdivision=subdivision,
                close=close,
                reopen=opened,
                remove=remove,
            )
        found = await find_office(session=session, office=office_ref)
    at = now()
    calendar = calendar_of(found, at=at)
    today = at.date()
    coming = (
        {d.isoformat(): why for d, why in calendar.closed.items() if today <= d} if calendar else {}
    )
    body: dict[str, Any] = {
        "office": found.code,
        "country": found.calendar_country,
        "subdivision": found.calendar_subdivision,
        "closed_days": found.closed_days or [],
        "calendar": None
        if calendar is None
        else {"id": calendar.id, "version": calendar.version, "weekend": sorted(calendar.weekend)},
        "coming_closed_days": coming,
    }
    if calendar is None:
        human = f"Office {found.code}: no calendar (no date moves off closed days)"
    else:
        human = "\n".join(
            [f"Office {found.code}: calendar {calendar.id}, version {calendar.version}"]
            + [f"{d}: {why}" for d, why in coming.items()]
        )
    emit(ctx, body, human)


# --- outages ---------------------------------------------------------------------------------


@main.group()
def outage() -> None:
    """Certified outages of the service or of one office."""


def _moment(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        refuse(f"{option} takes a time, e.g. 2026-12-05T22:00:00+01:00")
    if moment.tzinfo is None:
        refuse(f"{option} needs its offset (e.g. +01:00 or Z): which time zone is it in?")
    return moment


def _public(found: Any, code: str | None) -> dict[str, Any]:
    from mailbox.timefmt import rfc3339

    return {
        "id": found.id,
        "scope": "office" if code else "service",
        "office": code,
        "from": rfc3339(found.starts_at),
        "to": rfc3339(found.ends_at),
        "affected": found.affected,
        "recorded_at": rfc3339(found.recorded_at),
        "certificate_sha256": found.certificate_sha256,
        "deliveries_touched": found.deliveries_touched,
    }


@outage.command("record")
@click.option("--from", "starts", required=True, help="When it began (RFC 3339 with offset).")
@click.option("--to", "ends", required=True, help="When it ended (RFC 3339 with offset).")
@click.option("--affected", required=True, help="What was affected (up to 500 characters).")
@click.option(
    "--office",
    "office_ref",
    default=None,
    help="One office (id or code); default: the whole service.",
)
@click.pass_context
def outage_record(
    ctx: click.Context, starts: str, ends: str, affected: str, office_ref: str | None
) -> None:
    """Certify an outage (signed, timestamped certificate in JSON and as a sealed PDF, written
    into the evidence log) and extend the legal dates of the deliveries it touches, as their
    rules say."""
    from mailbox.cli.base import run_domain
    from mailbox.deliveries.outages import record_outage
    from mailbox.services import Services

    starts_at, ends_at = _moment(starts, "--from"), _moment(ends, "--to")
    settings = load_settings()

    async def run() -> Any:
        async with open_database():  # refuses an un-migrated database
            pass
        services = Services.start(settings, sealing_workers=0)
        try:
            return await record_outage(
                services,
                starts_at=starts_at,
                ends_at=ends_at,
                affected=affected,
                office=office_ref,
                actor="operator",
            )
        finally:
            await services.close()

    found = run_domain(run())
    body = _public(found, json.loads(found.certificate)["certificate"]["office"])
    emit(
        ctx,
        body,
        f"Outage {found.id} certified (SHA-256 {found.certificate_sha256}); "
        f"{found.deliveries_touched} deliveries touched",
    )


@outage.command("list")
@click.option("--limit", default=50, show_default=True)
@click.pass_context
@domain_command
async def outage_list(ctx: click.Context, limit: int) -> None:
    """The certified outages, newest first."""
    from mailbox.deliveries.outages import list_outages

    async with open_database() as database, database.session() as session:
        rows, _ = await list_outages(session=session, limit=limit)
    items = [_public(found, code) for found, code in rows]
    human = "\n".join(
        f"{i['id']}  {i['from']} .. {i['to']}  {i['office'] or 'service'}  {i['affected']}"
        for i in items
    )
    emit(ctx, {"items": items}, human or "No outages certified.")


@outage.command("certificate")
@click.argument("outage_id")
@click.option(
    "--pdf",
    "pdf_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the sealed PDF here.",
)
@click.pass_context
@domain_command
async def outage_certificate(ctx: click.Context, outage_id: str, pdf_path: Path | None) -> None:
    """Print the signed JSON certificate of OUTAGE_ID (or write its sealed PDF)."""
    from mailbox.deliveries.outages import get_outage

    async with open_database() as database, database.session() as session:
        found = await get_outage(session=session, outage_id=outage_id)
    if pdf_path is not None:
        pdf_path.write_bytes(found.certificate_pdf)
        click.echo(f"Wrote {pdf_path} ({len(found.certificate_pdf)} bytes)")
        return
    click.echo(found.certificate.decode())


@outage.command("verify")
@click.argument("path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--root",
    "root_pem",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The service's root certificate (PEM), from the service: never a copy in the file.",
)
@click.pass_context
def outage_verify(ctx: click.Context, path: Path, root_pem: Path) -> None:
    """Verify a JSON outage certificate offline against the root certificate alone: its
    SHA-256, its signer, the signature and the RFC 3161 timestamp. Exits 1 if a check fails,
    2 if the file is no outage certificate."""
    from mailbox.deliveries.outages import verify_certificate
    from mailbox.proof.check import InputUnreadable, load_trust_root

    try:
        root = load_trust_root(root_pem.read_bytes())
        document = json.loads(path.read_bytes())
        check = verify_certificate(document, trust_root=root)
    except (InputUnreadable, ValueError) as exc:
        refuse(f"{path} is not an outage certificate ({exc})")
    body = check.as_dict()
    lines = [f"{name}: {'ok' if ok else 'FAILED'}" for name, ok in body.items() if name != "valid"]
    emit(ctx, body, "\n".join([f"Outage certificate {path.name}", *lines]))
    if not check.valid:
        sys.exit(1)
