"""Administration: offices, accounts, users, grants and machine clients."""

from __future__ import annotations

from typing import Any

import click

from mailbox.cli.base import domain_command, emit, load_settings, main, open_database, run_domain

# --- administration ------------------------------------------------------------------------


@main.group()
def office() -> None:
    """Offices that dispatch documents."""


@office.command("create")
@click.option("--code", required=True, help="Short code, e.g. EP.")
@click.option("--name", required=True)
@click.option("--deemed-days", type=int, default=None, help="Days until deemed delivery.")
@click.option(
    "--active-content",
    type=click.Choice(["reject", "allow"]),
    default="reject",
    show_default=True,
    help="PDFs with JavaScript, launch actions, embedded files and the like.",
)
@click.option(
    "--address", "postal_address", default="", help="Return address printed on paper letters."
)
@click.pass_context
@domain_command
async def office_create(
    ctx: click.Context,
    code: str,
    name: str,
    deemed_days: int | None,
    active_content: str,
    postal_address: str,
) -> None:
    from mailbox.identity.admin import create_office

    async with open_database() as database, database.write() as session:
        created = await create_office(
            session=session,
            code=code,
            name=name,
            deemed_delivery_days=deemed_days,
            active_content=active_content,
            postal_address=postal_address,
        )
    emit(ctx, created.model_dump(mode="json"), f"Office {created.code}: {created.id}")


@office.command("policy")
@click.argument("office_ref", metavar="OFFICE")
@click.option(
    "--active-content",
    type=click.Choice(["reject", "allow"]),
    required=True,
    help="reject: refuse PDFs with JavaScript, launch actions, embedded files, rich media, XFA "
    "or form submission, naming what was found; allow: seal them and record what they carry "
    "in the dispatch's evidence.",
)
@click.pass_context
@domain_command
async def office_policy(ctx: click.Context, office_ref: str, active_content: str) -> None:
    """Set an office's policy (OFFICE is its id or its code)."""
    from mailbox.identity.admin import set_active_content_policy

    async with open_database() as database, database.write() as session:
        changed = await set_active_content_policy(
            session=session, office=office_ref, active_content=active_content
        )
    emit(
        ctx,
        changed.model_dump(mode="json"),
        f"Office {changed.code}: active content {changed.active_content}",
    )


@office.command("mailbox")
@click.argument("office_ref", metavar="OFFICE")
@click.option(
    "--email",
    default=None,
    help="The address that receives the mailbox's alerts, verified out of band (needed to "
    "open it).",
)
@click.option("--address", "postal_address", default=None, help="The office's postal address.")
@click.pass_context
@domain_command
async def office_mailbox_command(
    ctx: click.Context, office_ref: str, email: str | None, postal_address: str | None
) -> None:
    """Open OFFICE's own mailbox (its id or code), in which other offices serve it documents,
    or print it. Its receiving clerks and machine clients get account grants on it
    (`grant --account`, `client create --account`)."""
    from mailbox.identity.admin import office_mailbox, open_office_mailbox

    async with open_database() as database, database.write() as session:
        if email is None:
            office, mailbox = await office_mailbox(session=session, office=office_ref)
            if mailbox is None:
                raise click.UsageError(f"Office {office.code} has no mailbox; open it with --email")
            opened = False
        else:
            mailbox, opened = await open_office_mailbox(
                session=session, office=office_ref, email=email, postal_address=postal_address
            )
    verb = "opened" if opened else "is"
    emit(ctx, mailbox.model_dump(mode="json"), f"Mailbox {verb} account {mailbox.id}")


@office.command("forwarding")
@click.argument("office_ref", metavar="HUB")
@click.argument("kind", required=False)
@click.option(
    "--mode",
    type=click.Choice(["automatic", "check"]),
    default=None,
    help="automatic: forward at once; check: hold until the hub's people forward it.",
)
@click.pass_context
@domain_command
async def office_forwarding(
    ctx: click.Context, office_ref: str, kind: str | None, mode: str | None
) -> None:
    """Set what the hub HUB (its id or code) does with transmissions of KIND (--mode), or print
    its rules. A kind without a rule is forwarded automatically."""
    from mailbox.identity.admin import find_office
    from mailbox.transmissions.rules import hub_rules, set_forwarding_rule

    if (kind is None) != (mode is None):
        raise click.UsageError("Give KIND and --mode together (or neither, to print the rules)")
    async with open_database() as database, database.write() as session:
        office = await find_office(session=session, office=office_ref)
        if kind is not None:
            await set_forwarding_rule(session=session, office=office, kind=kind, mode=mode)
        found = await hub_rules(session=session, office=office)
    body = {
        "office_code": found.office.code,
        "default_mode": "automatic",
        "rules": [{"kind": r.kind, "mode": r.mode} for r in found.rules],
    }
    lines = [f"{r.kind}: {r.mode}" for r in found.rules] or ["every kind: automatic"]
    emit(ctx, body, "\n".join(lines))


@office.command("paper-only")
@click.argument("office_ref", metavar="OFFICE")
@click.option("--kind", "kind_code", required=True, help="The document kind code, e.g. R71.")
@click.option("--off", is_flag=True, help="Serve the kind electronically again (where possible).")
@click.pass_context
@domain_command
async def office_paper_only(ctx: click.Context, office_ref: str, kind_code: str, off: bool) -> None:
    """Serve documents of a kind on paper only, or (--off) no longer (OFFICE is its id or its
    code). Later dispatches of that kind go on paper; deliveries already made keep their
    course."""
    from mailbox.deliveries.paper_kinds import set_paper_only_kind

    async with open_database() as database, database.write() as session:
        changed = await set_paper_only_kind(
            session=session, office=office_ref, kind_code=kind_code, paper_only=not off
        )
    kinds = sorted(changed.paper_only_kinds or [])
    emit(
        ctx,
        {"id": changed.id, "code": changed.code, "paper_only_kinds": kinds},
        f"Office {changed.code}: paper only for kinds {', '.join(kinds) or '(none)'}",
    )


@office.command("clock")
@click.argument("office_ref", metavar="OFFICE")
@click.option(
    "--rule",
    "rule_id",
    default=None,
    help="A shipped rule of the legal clock, e.g. epo-2023-v1 (see the README's legal clock "
    "section).",
)
@click.option("--kind", default=None, help="With --rule: only for documents of this kind.")
@click.option(
    "--zone", default=None, help="The office's time zone, e.g. Europe/Berlin (default UTC)."
)
@click.pass_context
@domain_command
async def office_clock(
    ctx: click.Context, office_ref: str, rule_id: str | None, kind: str | None, zone: str | None
) -> None:
    """Choose the rule of the legal clock that OFFICE (its id or code) follows, for every
    document kind or one, and its time zone; without options, print them. Deliveries already
    made keep the rule and zone they were made under."""
    from mailbox.deliveries.clock_rules import (
        choose_clock_rule,
        list_clock_rules,
        set_office_time_zone,
    )
    from mailbox.deliveries.legal_clock import DEFAULT_RULE_ID
    from mailbox.identity.admin import find_office

    if kind is not None and rule_id is None:
        raise click.UsageError("--kind needs --rule")
    async with open_database() as database, database.write() as session:
        if zone is not None:
            await set_office_time_zone(session=session, office=office_ref, zone=zone)
        if rule_id is not None:
            await choose_clock_rule(
                session=session, office=office_ref, rule_id=rule_id, kind_code=kind
            )
        found = await find_office(session=session, office=office_ref)
        rows = await list_clock_rules(session=session, office=office_ref)
    body = {
        "office": found.code,
        "time_zone": found.time_zone,
        "default_rule": DEFAULT_RULE_ID,
        "choices": [{"kind_code": r.kind_code, "rule_id": r.rule_id} for r in rows],
    }
    lines = [f"Office {found.code}, time zone {found.time_zone}"]
    lines += [f"kind {r.kind_code}: {r.rule_id}" for r in rows] or [
        f"kind *: {DEFAULT_RULE_ID} (default)"
    ]
    emit(ctx, body, "\n".join(lines))


@main.group()
def account() -> None:
    """Accounts: the legal addressees."""


@account.command("create")
@click.option("--name", required=True)
@click.option("--address", "postal_address", required=True, help="Postal address (paper).")
@click.option("--language", default="en", show_default=True)
@click.option("--email", default=None, help="A notification address verified out of band.")
@click.option("--consent/--no-consent", default=False, help="Consents to electronic delivery.")
@click.pass_context
@domain_command
async def account_create(
    ctx: click.Context,
    name: str,
    postal_address: str,
    language: str,
    email: str | None,
    consent: bool,
) -> None:
    from mailbox.identity.admin import add_verified_address, create_account

    async with open_database() as database, database.write() as session:
        created = await create_account(
            session=session,
            name=name,
            postal_address=postal_address,
            language=language,
            consent=consent,
        )
        if email:
            await add_verified_address(session=session, account=created, email=email)
    state = "active" if created.edelivery_active else "inactive"
    emit(ctx, created.model_dump(mode="json"), f"Account {created.id} (e-delivery {state})")


@main.group()
def user() -> None:
    """People who log in."""


@user.command("create")
@click.option("--email", required=True)
@click.option("--name", "display_name", default="")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.pass_context
@domain_command
async def user_create(ctx: click.Context, email: str, display_name: str, password: str) -> None:
    from mailbox.identity.admin import create_user

    async with open_database() as database, database.write() as session:
        created = await create_user(
            session=session, email=email, password=password, display_name=display_name
        )
    payload = created.model_dump(mode="json", exclude={"password_hash"})
    emit(ctx, payload, f"User {created.email}: {created.id}")


@user.command("reset-second-factor")
@click.option("--email", required=True)
@click.pass_context
@domain_command
async def user_reset_second_factor(ctx: click.Context, email: str) -> None:
    """Turn a person's two-step log-in off (lost phone and recovery codes): they set it up
    again at their next log-in if their role requires it, and remembered devices are
    forgotten."""
    from sqlmodel import select

    from mailbox.errors import NotFound
    from mailbox.identity.second_factor import reset_second_factor
    from mailbox.models import User

    async with open_database() as database, database.write() as session:
        found = (
            await session.exec(select(User).where(User.email == email.strip().lower()))
        ).one_or_none()
        if found is None:
            raise NotFound(f"No user with email {email}")
        had = await reset_second_factor(session=session, user_id=found.id)
    state = "turned off" if had else "was not on"
    emit(ctx, {"user_id": found.id, "reset": had}, f"Two-step log-in of {email} {state}")


@main.command()
@click.option("--user", "user_id", required=True, help="User id.")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["owner", "editor", "viewer", "dispatcher", "auditor", "printer"]),
)
@click.option("--account", "account_id", default=None, help="Account id (account roles).")
@click.option("--office", "office_id", default=None, help="Office id (office roles).")
@click.pass_context
@domain_command
async def grant(
    ctx: click.Context, user_id: str, role: str, account_id: str | None, office_id: str | None
) -> None:
    """Give a user a role on an account or an office."""
    from mailbox.identity.admin import grant_role
    from mailbox.models import Role

    async with open_database() as database, database.write() as session:
        created = await grant_role(
            session=session,
            user_id=user_id,
            role=Role(role),
            account_id=account_id,
            office_id=office_id,
        )
    emit(ctx, created.model_dump(mode="json"), f"Grant {created.id}")


@main.group()
def client() -> None:
    """Machine clients (private_key_jwt)."""


@client.command("create")
@click.option("--name", required=True)
@click.option(
    "--role",
    required=True,
    type=click.Choice(["owner", "editor", "viewer", "dispatcher", "auditor"]),
)
@click.option("--account", "account_id", default=None, help="Account id (account roles).")
@click.option("--office", "office_id", default=None, help="Office id (office roles).")
@click.option(
    "--public-key",
    "public_key",
    required=True,
    type=click.File("r"),
    help="PEM file with the client's public key (EC, or RSA >= 2048 bits).",
)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help="A scope (inbox:read, documents:read, dispatch:write, evidence:read, "
    "webhooks:manage, events:read); repeat for several. Default: all the role allows.",
)
@click.pass_context
def client_create(
    ctx: click.Context,
    name: str,
    role: str,
    account_id: str | None,
    office_id: str | None,
    public_key: Any,
    scopes: tuple[str, ...],
) -> None:
    """Register a machine client; it then gets tokens with a signed client assertion.
    Recorded as ClientRegistered evidence (actor operator:cli)."""
    from mailbox.identity.clients import register_client
    from mailbox.models import Role
    from mailbox.services import Services

    settings = load_settings()
    pem = public_key.read()

    async def run() -> Any:
        async with open_database():  # refuses an un-migrated database
            pass
        services = Services.start(settings, sealing_workers=0)
        try:
            async with services.db.write() as session:
                return await register_client(
                    session=session,
                    signer=services.evidence,
                    name=name,
                    role=Role(role),
                    public_key_pem=pem,
                    office_id=office_id,
                    account_id=account_id,
                    scopes=list(scopes) or None,
                )
        finally:
            await services.close()

    view = run_domain(run())
    body = {
        **view.client.model_dump(mode="json"),
        "keys": [{"kid": key.kid} for key in view.keys],
    }
    emit(ctx, body, f"Client {view.client.name}: client_id {view.client.id}")
