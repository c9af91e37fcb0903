"""The email transports behind one protocol: SMTP (one connection per batch, a big batch
spread over several) against a real aiosmtpd server, and the pickup directory in a temporary
folder. Either reports one outcome per message, in order, and never raises."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from notifier import (
    EmailMessage,
    PickupDirectory,
    SendOutcome,
    SmtpSettings,
    SmtpTransport,
    Transport,
)
from notifier.email import MESSAGES_PER_CONNECTION
from tests.fixtures.smtp import SmtpServer, free_port

SENDER = "Mailbox <no-reply@mailbox.test>"


def a_message(n: int, to: str | None = None) -> EmailMessage:
    return EmailMessage(
        message_id=f"<msg_{n}@mailbox.test>",
        to=(to or f"applicant{n}@example.com",),
        subject=f"New document {n}",
        text=f"Document {n} is in your secure mailbox.\n",
        html=f"<p>Document {n} is in your secure mailbox.</p>",
    )


def test_smtp_and_pickup_directory_are_transports(tmp_path: Path) -> None:
    assert isinstance(SmtpTransport(SmtpSettings()), Transport)
    assert isinstance(PickupDirectory(tmp_path, SmtpSettings()), Transport)


async def test_smtp_transport_sends_a_small_batch_over_one_connection(
    smtp_server: SmtpServer,
) -> None:
    transport = SmtpTransport(smtp_server.settings(sender=SENDER), connections=4)

    outcomes = await transport.send([a_message(n) for n in range(3)])

    assert [o.ok for o in outcomes] == [True, True, True]
    arrived = await smtp_server.wait_for(3)
    assert [m.message["Message-ID"] for m in arrived] == [
        f"<msg_{n}@mailbox.test>" for n in range(3)
    ]
    assert smtp_server.connections == 1


async def test_smtp_transport_spreads_a_big_batch_within_the_connections_allowed(
    smtp_server: SmtpServer,
) -> None:
    transport = SmtpTransport(smtp_server.settings(sender=SENDER), connections=4)
    batch = [a_message(n) for n in range(3 * MESSAGES_PER_CONNECTION)]

    outcomes = await transport.send(batch, connections=2)

    assert len(outcomes) == len(batch) and all(o.ok for o in outcomes)
    await smtp_server.wait_for(len(batch))
    assert smtp_server.connections == 2


async def test_smtp_transport_reports_each_message_in_order(smtp_server: SmtpServer) -> None:
    smtp_server.reject_recipients({"gone@example.com"}, code=550)
    transport = SmtpTransport(smtp_server.settings(sender=SENDER))

    first, refused, last = await transport.send(
        [a_message(1), a_message(2, to="gone@example.com"), a_message(3)]
    )

    assert first.ok and last.ok
    assert not refused.ok and refused.permanent and refused.code == 550


async def test_smtp_transport_with_the_server_down_fails_every_message_retryably() -> None:
    transport = SmtpTransport(SmtpSettings(port=free_port(), timeout=2.0, sender=SENDER))

    outcomes = await transport.send([a_message(1), a_message(2)])

    assert [(o.ok, o.permanent) for o in outcomes] == [(False, False), (False, False)]


async def test_an_empty_batch_sends_nothing(smtp_server: SmtpServer) -> None:
    assert await SmtpTransport(smtp_server.settings(sender=SENDER)).send([]) == []
    assert smtp_server.connections == 0


async def test_pickup_directory_writes_one_eml_file_per_message(tmp_path: Path) -> None:
    transport = PickupDirectory(tmp_path / "outgoing-mail", SmtpSettings(sender=SENDER))

    outcomes = await transport.send([a_message(1), a_message(2)], connections=3)

    assert outcomes == [SendOutcome(True, False, "written to pickup directory")] * 2
    written = sorted((tmp_path / "outgoing-mail").iterdir())
    assert [p.name for p in written] == ["msg_1@mailbox.test.eml", "msg_2@mailbox.test.eml"]
    mail = email.message_from_bytes(written[0].read_bytes(), policy=email.policy.default)
    assert mail["From"] == SENDER and mail["To"] == "applicant1@example.com"


async def test_pickup_directory_that_cannot_be_written_fails_retryably(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    transport = PickupDirectory(blocker / "mail", SmtpSettings(sender=SENDER))

    [outcome] = await transport.send([a_message(1)])

    assert not outcome.ok and not outcome.permanent
