"""``python -m mailbox.client sync|push``: the reference client's command line.

Every option can also come from the environment (``MAILBOX_URL``, ``MAILBOX_CLIENT_ID``,
``MAILBOX_CLIENT_KEY``, ``MAILBOX_ROOT``), so that a cron job holds no secrets on its command
line. Exit codes: 0 done, 1 the service or a check refused something (the message says what),
2 bad usage.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from mailbox.client.connection import ClientError, Connection
from mailbox.client.folder import Folder
from mailbox.client.push import PushReport, push, read_manifest
from mailbox.client.sync import SyncReport, sync
from mailbox.proof.check import InputUnreadable, load_trust_root

console = Console(stderr=True)

_url = click.option("--url", envvar="MAILBOX_URL", required=True, help="The service's base URL.")
_client = click.option(
    "--client-id", envvar="MAILBOX_CLIENT_ID", required=True, help="Your machine client's id."
)
_key = click.option(
    "--key",
    "key_file",
    envvar="MAILBOX_CLIENT_KEY",
    required=True,
    type=click.Path(path_type=Path),
    help="PEM file with the private key registered for the client.",
)


@click.group()
def main() -> None:
    """Keep a folder in step with a mailbox, or dispatch a folder, over the public API."""


@main.command("sync")
@_url
@_client
@_key
@click.option(
    "--root",
    envvar="MAILBOX_ROOT",
    required=True,
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="The service's root certificate (PEM or DER), obtained out of band.",
)
@click.option("--to", "target", required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--wait", default=0.0, type=click.FloatRange(0, 30), help="Long-poll seconds at the end."
)
def sync_command(
    url: str, client_id: str, key_file: Path, root: Path, target: Path, wait: float
) -> None:
    """Download every new document with its proof bundle into TARGET, each checked."""
    try:
        trust_root = load_trust_root(root.read_bytes())
        folder = Folder(target)
        with Connection(url, client_id, key_file) as connection:

            def shown(report: SyncReport) -> None:
                console.print(
                    f"\r{report.events} events, {report.downloaded} downloaded, "
                    f"{report.skipped} already here, {report.without_document} without a "
                    "document",
                    end="",
                    highlight=False,
                )

            report = sync(connection, folder, root=trust_root, wait=wait, progress=shown)
    except (ClientError, InputUnreadable, ValueError, OSError) as exc:
        console.print(f"\n[red]sync stopped:[/red] {exc}", highlight=False)
        sys.exit(1)
    console.print(
        f"\nIn step: {report.downloaded} new document(s), {report.events} event(s) read.",
        highlight=False,
    )


@main.command("push")
@_url
@_client
@_key
@click.argument("folder", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option(
    "--manifest",
    required=True,
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="CSV with columns file, recipient, kind, dossier_number, title, reference.",
)
def push_command(url: str, client_id: str, key_file: Path, folder: Path, manifest: Path) -> None:
    """Dispatch each PDF of FOLDER named in the manifest."""
    try:
        rows = read_manifest(manifest, folder)
        with Connection(url, client_id, key_file) as connection:

            def shown(report: PushReport) -> None:
                done = len(report.accepted) + len(report.refused)
                console.print(f"\r{done}/{len(rows)} sent", end="", highlight=False)

            report = push(connection, folder, rows, progress=shown)
    except ClientError as exc:
        console.print(f"\n[red]push stopped:[/red] {exc}", highlight=False)
        sys.exit(1)
    console.print()
    for line, delivery_id in sorted(report.accepted.items()):
        click.echo(f"line {line}: dispatched as {delivery_id}")
    for line, problem in sorted(report.refused.items()):
        click.echo(f"line {line}: refused: {problem}")
    if report.refused:
        sys.exit(1)


if __name__ == "__main__":
    main()
