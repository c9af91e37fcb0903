"""Shared parts of the command line: the root group, settings, output (human or ``--json``),
and running async domain work with errors turned into one line and an exit code."""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click
from pydantic import ValidationError

from mailbox.config import Settings
from mailbox.errors import MailboxError

__all__ = [
    "domain_command",
    "emit",
    "load_settings",
    "main",
    "open_database",
    "progress_bar",
    "refuse",
    "run_blocking",
    "run_domain",
]


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        # Each error's place and message only: pydantic would also print the values given,
        # passwords among them.
        reasons = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'settings'}: {error['msg']}"
            for error in exc.errors()
        )
        raise click.ClickException(f"Invalid settings: {reasons}") from None
    except Exception as exc:
        raise click.ClickException(f"Invalid settings: {exc}") from None


def emit(ctx: click.Context, payload: dict[str, Any], human: str) -> None:
    if ctx.find_root().params.get("as_json"):
        click.echo(json.dumps(payload, indent=2, default=str))
    else:
        click.echo(human)


def run_domain(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro``; turn domain and set-up errors into one line on stderr and an exit code."""
    try:
        return asyncio.run(coro)
    except MailboxError as exc:
        fields = "; ".join(f"{e.field}: {e.message}" for e in exc.errors)
        click.echo(f"Error: {exc.detail}" + (f" ({fields})" if fields else ""), err=True)
        sys.exit(2 if exc.status_code < 500 else 1)
    except (FileNotFoundError, FileExistsError) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)


def refuse(message: str) -> NoReturn:
    """Bad input: one line on stderr, exit 2, nothing done."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


def run_blocking(work: Callable[[], Any]) -> Any:
    """Run blocking domain ``work``; a refusal is one line on stderr and exit 2 (1 for a
    failure of ours), an OS error one line and exit 1."""
    try:
        return work()
    except MailboxError as exc:
        click.echo(f"Error: {exc.detail}", err=True)
        sys.exit(2 if exc.status_code < 500 else 1)
    except OSError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)


@contextmanager
def progress_bar() -> Iterator[Callable[[str, int, int], None]]:
    """A progress callback ``(stage, done, total)`` drawing one bar per stage on stderr, when
    stderr is a terminal (never in ``--json`` output or logs). A total of 0 is not known in
    advance: the bar pulses."""
    from rich.console import Console
    from rich.progress import Progress

    tasks: dict[str, Any] = {}
    console = Console(stderr=True)
    with Progress(console=console, transient=True, disable=not sys.stderr.isatty()) as bar:

        def advance(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage.capitalize(), total=total or None)
            bar.update(tasks[stage], completed=done, total=total or None)

        yield advance


def domain_command(func: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async command through :func:`run_domain`."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        run_domain(func(*args, **kwargs))

    return wrapper


@click.group()
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
def main(as_json: bool) -> None:
    """Secure electronic-delivery mailbox."""


class open_database:
    """An open Database for one CLI command, refusing an un-migrated schema: the one of
    ``settings``, or of the settings read from the environment and configuration file."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings

    async def __aenter__(self) -> Any:
        from mailbox.db import Database, assert_migrated

        settings = self.settings if self.settings is not None else load_settings()
        self.database = Database(settings.effective_database_url)
        await assert_migrated(self.database)
        return self.database

    async def __aexit__(self, *exc: object) -> None:
        await self.database.dispose()
