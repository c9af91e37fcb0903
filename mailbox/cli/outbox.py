"""The outbox as an operator sees it: pending and dead messages (``outbox list``), and dead ones
put back in the queue (``outbox retry``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from mailbox.cli.base import emit, load_settings, main, open_database, refuse, run_domain
from mailbox.timefmt import rfc3339, rfc3339_or_none


@main.group()
def outbox() -> None:
    """Outbox messages waiting to be sent, or dead."""


@outbox.command("list")
@click.option("--dead", "which", flag_value="dead", help="Messages that failed for good.")
@click.option("--pending", "which", flag_value="pending", help="Messages waiting to be sent.")
@click.option(
    "--channel", type=click.Choice(["email", "webhook", "paper"]), default=None, help="Only one."
)
@click.option("--limit", type=click.IntRange(1, 10000), default=100, show_default=True)
@click.pass_context
def outbox_list(ctx: click.Context, which: str | None, channel: str | None, limit: int) -> None:
    """List dead or pending messages, oldest first: id, channel, kind, attempts, age, last
    error (and when a pending one is due)."""
    if which is None:
        refuse("say which messages: --dead or --pending")
    from mailbox.clock import now
    from mailbox.models import Channel, OutboxStatus
    from mailbox.notifications.dead_letters import list_messages

    async def run() -> Any:
        async with open_database() as database, database.session() as session:
            return await list_messages(
                session=session,
                status=OutboxStatus(which),
                channel=Channel(channel) if channel else None,
                limit=limit,
            )

    messages, total = run_domain(run())
    at = now()
    items = [
        {
            "id": m.id,
            "channel": m.channel,
            "kind": m.kind,
            "attempts": m.attempts,
            "age_seconds": int((at - m.created_at).total_seconds()),
            "created_at": rfc3339(m.created_at),
            "next_attempt_at": rfc3339(m.next_attempt_at) if which == "pending" else None,
            "done_at": rfc3339_or_none(m.done_at),
            "last_error": m.last_error,
            "delivery_id": m.delivery_id,
            "account_id": m.account_id,
        }
        for m in messages
    ]
    lines = [f"{total} {which} message(s)" + (f", the oldest {len(items)}:" if items else ".")]
    for m in messages:
        due = (
            f" due in {_age(at, m.next_attempt_at)}"
            if which == "pending" and m.next_attempt_at > at
            else ""
        )
        lines.append(
            f"{m.id}  {m.channel:<7} {m.kind:<22} attempts {m.attempts:<2} age "
            f"{_age(m.created_at, at):<5}{due}  {m.last_error or ''}"
        )
    emit(ctx, {"status": which, "total": total, "items": items}, "\n".join(lines))


@outbox.command("retry")
@click.argument("message_id", required=False)
@click.option("--all-dead", is_flag=True, help="Every dead message.")
@click.pass_context
def outbox_retry(ctx: click.Context, message_id: str | None, all_dead: bool) -> None:
    """Put a dead message (or, with --all-dead, every one) back in the queue: pending again,
    attempts reset, due now. Each one is logged. Fix the cause first (the recipient's address,
    the webhook receiver)."""
    if (message_id is None) == (not all_dead):
        refuse("give one message id or --all-dead, not both")
    import getpass

    from mailbox.clock import now
    from mailbox.logs import configure_logging
    from mailbox.notifications.dead_letters import requeue_dead

    settings = load_settings()
    configure_logging(settings.log_level)

    async def run() -> Any:
        async with open_database() as database, database.write() as session:
            return await requeue_dead(
                session=session,
                at=now(),
                message_id=message_id,
                actor=f"operator:{getpass.getuser()}",
            )

    retried = run_domain(run())
    ids = [m.id for m in retried]
    human = (
        f"{len(ids)} dead message(s) back in the queue: {', '.join(ids)}"
        if ids
        else "No dead messages."
    )
    emit(ctx, {"retried": ids}, human)


def _age(since: datetime, at: datetime) -> str:
    seconds = max(int((at - since).total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
