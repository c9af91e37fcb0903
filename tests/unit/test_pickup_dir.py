"""The pickup directory: emails written as .eml files for development and demos."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from notifier import EmailMessage, SmtpSettings
from notifier.pickup_dir import file_name, write_batch

SETTINGS = SmtpSettings(sender="Mailbox <no-reply@mailbox.test>")


def a_message(n: int) -> EmailMessage:
    return EmailMessage(
        message_id=f"<msg_{n}@mailbox.test>",
        to=("applicant@example.com",),
        subject=f"Nouveau document {n}",
        text="Délai : disponible.\n",
        html="<p>Délai : disponible.</p>",
    )


async def test_write_batch_writes_one_readable_eml_per_message(tmp_path: Path) -> None:
    outbox_dir = tmp_path / "outgoing-mail"

    outcomes = await write_batch(outbox_dir, SETTINGS, [a_message(1), a_message(2)])

    assert [o.ok for o in outcomes] == [True, True]
    assert sorted(p.name for p in outbox_dir.iterdir()) == [
        "msg_1@mailbox.test.eml",
        "msg_2@mailbox.test.eml",
    ]
    parsed = email.message_from_bytes(
        (outbox_dir / file_name("<msg_1@mailbox.test>")).read_bytes(), policy=email.policy.default
    )
    assert parsed["Message-ID"] == "<msg_1@mailbox.test>"
    assert parsed["Subject"] == "Nouveau document 1"
    assert parsed.get_body(("plain",)).get_content() == "Délai : disponible.\n"


async def test_writing_a_message_again_replaces_it(tmp_path: Path) -> None:
    await write_batch(tmp_path, SETTINGS, [a_message(1)])
    await write_batch(tmp_path, SETTINGS, [a_message(1)])

    assert [p.name for p in tmp_path.iterdir()] == ["msg_1@mailbox.test.eml"]


async def test_unwritable_directory_is_a_retryable_failure(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")

    [outcome] = await write_batch(blocker / "mail", SETTINGS, [a_message(1)])

    assert not outcome.ok and not outcome.permanent


def test_file_name_cannot_escape_the_directory() -> None:
    assert file_name("<../../etc/passwd@x>") == ".._.._etc_passwd@x.eml"


async def test_write_batch_unwritable_directory_is_our_fault(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")

    outcomes = await write_batch(blocker / "outgoing", SETTINGS, [a_message(1)])

    assert [(o.ok, o.permanent, o.ours) for o in outcomes] == [(False, False, True)]
