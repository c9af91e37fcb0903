"""Sending email over SMTP, against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import ssl

import aiosmtplib
import pytest

from notifier import (
    EmailMessage,
    SendOutcome,
    SmtpSettings,
    classify_smtp_error,
    send_batch,
    send_batches_parallel,
)
from tests.fixtures.smtp import SmtpServer, free_port


def a_message(n: int = 1, *, to: str | None = None, **overrides: object) -> EmailMessage:
    values: dict[str, object] = {
        "message_id": f"<outbox-{n}@mailbox.test>",
        "to": (to or f"applicant{n}@example.com",),
        "subject": f"New document {n}",
        "text": f"Document {n} is in your secure mailbox.\n",
        "html": f"<p>Document {n} is in your secure mailbox.</p>",
    }
    values.update(overrides)
    return EmailMessage(**values)  # type: ignore[arg-type]


async def test_send_batch_delivers_text_and_html_parts(smtp_server: SmtpServer) -> None:
    message = a_message(
        text="Délai : le document est disponible.\n", html="<p>Délai&nbsp;: disponible.</p>"
    )

    outcomes = await send_batch(smtp_server.settings(), [message])

    assert outcomes == [SendOutcome(ok=True, permanent=False, detail="accepted", code=250)]
    [arrived] = await smtp_server.wait_for(1)
    received = arrived.message
    assert received.get_content_type() == "multipart/alternative"
    assert received.get_body(("plain",)).get_content() == "Délai : le document est disponible.\n"
    assert received.get_body(("html",)).get_content() == "<p>Délai&nbsp;: disponible.</p>"


async def test_send_batch_writes_message_id_and_headers(smtp_server: SmtpServer) -> None:
    settings = smtp_server.settings(sender='"Boîte aux lettres" <no-reply@mailbox.test>')
    message = a_message(
        7,
        to="Zoë Martin <zoe@example.com>",
        subject="Nouveau document : notification de délivrance",
        headers=(("X-Mailbox-Delivery", "dlv_7"),),
    )

    await send_batch(settings, [message])

    [received] = smtp_server.messages
    assert received.mail_from == "no-reply@mailbox.test"
    assert received.rcpt_tos == ("zoe@example.com",)
    headers = received.message
    assert headers["Message-ID"] == "<outbox-7@mailbox.test>"
    assert headers["From"].addresses[0].display_name == "Boîte aux lettres"
    assert headers["From"].addresses[0].addr_spec == "no-reply@mailbox.test"
    assert headers["To"].addresses[0].display_name == "Zoë Martin"
    assert headers["Subject"] == "Nouveau document : notification de délivrance"
    assert headers["Auto-Submitted"] == "auto-generated"
    assert headers["Date"].datetime is not None
    assert headers["X-Mailbox-Delivery"] == "dlv_7"


async def test_send_batch_uses_one_connection_for_the_batch(smtp_server: SmtpServer) -> None:
    messages = [a_message(n) for n in range(5)]

    outcomes = await send_batch(smtp_server.settings(), messages)

    assert all(outcome.ok for outcome in outcomes)
    assert smtp_server.connections == 1
    assert [m.message["Message-ID"] for m in smtp_server.messages] == [
        m.message_id for m in messages
    ]


async def test_send_batch_refused_recipient_is_permanent_others_still_sent(
    smtp_server: SmtpServer,
) -> None:
    smtp_server.reject_recipients({"gone@example.com"}, code=550)
    messages = [a_message(1), a_message(2, to="gone@example.com"), a_message(3)]

    outcomes = await send_batch(smtp_server.settings(), messages)

    assert [outcome.ok for outcome in outcomes] == [True, False, True]
    assert outcomes[1].permanent
    assert outcomes[1].code == 550
    assert "550" in outcomes[1].detail
    assert [m.rcpt_tos for m in smtp_server.messages] == [
        ("applicant1@example.com",),
        ("applicant3@example.com",),
    ]
    assert smtp_server.connections == 1


async def test_send_batch_temporary_failure_is_retryable(smtp_server: SmtpServer) -> None:
    smtp_server.fail_temporarily(1, code=451)

    first, second = await send_batch(smtp_server.settings(), [a_message(1), a_message(2)])

    assert (first.ok, first.permanent, first.code) == (False, False, 451)
    assert second.ok
    assert len(smtp_server.messages) == 1


async def test_send_batch_server_down_all_retryable_then_recovers(
    smtp_server: SmtpServer,
) -> None:
    smtp_server.stop()
    messages = [a_message(1), a_message(2)]

    outcomes = await send_batch(smtp_server.settings(), messages)

    assert [(o.ok, o.permanent) for o in outcomes] == [(False, False), (False, False)]
    assert outcomes[0].detail.startswith("cannot connect")

    smtp_server.start()
    outcomes = await send_batch(smtp_server.settings(), messages)

    assert all(outcome.ok for outcome in outcomes)
    assert len(smtp_server.messages) == 2


async def test_send_batch_connection_dropped_reconnects_and_sends_the_rest(
    smtp_server: SmtpServer,
) -> None:
    smtp_server.drop_connection_for({"applicant2@example.com"})
    messages = [a_message(n) for n in (1, 2, 3, 4)]

    outcomes = await send_batch(smtp_server.settings(), messages)

    # The message in flight may or may not have arrived: it is retried, never assumed sent.
    assert [(o.ok, o.permanent) for o in outcomes] == [
        (True, False),
        (False, False),
        (True, False),
        (True, False),
    ]
    assert smtp_server.connections == 2
    assert len({m.connection for m in smtp_server.messages}) == 2


async def test_send_batch_reconnects_only_once(smtp_server: SmtpServer) -> None:
    smtp_server.drop_connection_for({"applicant2@example.com", "applicant3@example.com"})
    messages = [a_message(n) for n in (1, 2, 3, 4)]

    outcomes = await send_batch(smtp_server.settings(), messages)

    assert [o.ok for o in outcomes] == [True, False, False, False]
    assert not any(o.permanent for o in outcomes)
    assert outcomes[3].detail == "not sent: connection lost"
    assert smtp_server.connections == 2
    assert len(smtp_server.messages) == 1


async def test_send_batch_connection_dropped_server_gone_rest_retryable(
    smtp_server: SmtpServer,
) -> None:
    smtp_server.drop_connection_for({"applicant2@example.com"}, and_go_down=True)
    messages = [a_message(n) for n in (1, 2, 3, 4)]

    outcomes = await send_batch(smtp_server.settings(), messages)

    assert [o.ok for o in outcomes] == [True, False, False, False]
    assert not any(o.permanent for o in outcomes)
    assert outcomes[2].detail.startswith("cannot connect")
    assert smtp_server.connections == 1


async def test_send_batch_last_message_dropped_does_not_reconnect(
    smtp_server: SmtpServer,
) -> None:
    smtp_server.drop_connection_for({"applicant2@example.com"})

    outcomes = await send_batch(smtp_server.settings(), [a_message(1), a_message(2)])

    assert [o.ok for o in outcomes] == [True, False]
    assert smtp_server.connections == 1


async def test_send_batches_parallel_keeps_order_and_delivers_all(
    smtp_server: SmtpServer,
) -> None:
    smtp_server.reject_recipients(r"applicant1\d@example\.com")  # 10 to 19 are refused
    messages = [a_message(n) for n in range(40)]

    outcomes = await send_batches_parallel(smtp_server.settings(), messages, connections=4)

    assert [o.ok for o in outcomes] == [not 10 <= n <= 19 for n in range(40)]
    assert all(o.permanent for o in outcomes[10:20])
    assert smtp_server.connections == 4
    received = sorted(m.message["Message-ID"] for m in smtp_server.messages)
    expected = sorted(m.message_id for n, m in enumerate(messages) if not 10 <= n <= 19)
    assert received == expected


@pytest.mark.parametrize("tls", ["starttls", "tls"])
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_send_batch_over_tls_with_login(tls: str) -> None:
    server = SmtpServer(tls=tls, credentials=("alerts", "s3cret"))  # type: ignore[arg-type]
    server.start()
    try:
        outcomes = await send_batch(server.settings(), [a_message(1)])
        refused = await send_batch(server.settings(password="wrong"), [a_message(2)])
        unverified = await send_batch(server.settings(validate_certs=True), [a_message(3)])
    finally:
        server.stop()

    assert outcomes[0].ok
    assert len(server.messages) == 1
    # A bad password or certificate is our configuration, not the message's fault.
    assert (refused[0].ok, refused[0].permanent, refused[0].code) == (False, False, 535)
    assert (unverified[0].ok, unverified[0].permanent) == (False, False)


async def test_send_batch_plain_refuses_server_requiring_starttls() -> None:
    server = SmtpServer(tls="starttls")
    server.start()
    try:
        [outcome] = await send_batch(server.settings(security="plain"), [a_message(1)])
    finally:
        server.stop()

    assert (outcome.ok, outcome.permanent) == (False, False)
    assert server.messages == []


async def test_send_batch_of_nothing_opens_no_connection() -> None:
    assert await send_batch(SmtpSettings(port=free_port()), []) == []


def all_refused(code: int) -> aiosmtplib.SMTPRecipientsRefused:
    return aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(code, "no", "a")])


@pytest.mark.parametrize(
    ("exc", "permanent", "code"),
    [
        (all_refused(550), True, 550),
        (all_refused(450), False, 450),
        (aiosmtplib.SMTPDataError(554, "rejected"), True, 554),
        (aiosmtplib.SMTPDataError(451, "later"), False, 451),
        (aiosmtplib.SMTPSenderRefused(553, "bad sender", "x"), True, 553),
        (aiosmtplib.SMTPSenderRefused(530, "authentication required", "x"), False, 530),
        (aiosmtplib.SMTPAuthenticationError(535, "bad credentials"), False, 535),
        (aiosmtplib.SMTPServerDisconnected("gone"), False, None),
        (aiosmtplib.SMTPReadTimeoutError("slow"), False, None),
        (ConnectionRefusedError(), False, None),
        (ValueError("bad address"), True, None),
    ],
)
def test_classify_smtp_error(exc: Exception, permanent: bool, code: int | None) -> None:
    outcome = classify_smtp_error(exc)

    assert (outcome.ok, outcome.permanent, outcome.code) == (False, permanent, code)


def test_classify_smtp_error_keeps_login_text_out_of_detail() -> None:
    outcome = classify_smtp_error(aiosmtplib.SMTPAuthenticationError(535, "user x pass hunter2"))

    assert "hunter2" not in outcome.detail


@pytest.mark.parametrize(
    "overrides",
    [
        {"to": ()},
        {"message_id": "outbox-1@mailbox.test"},
        {"subject": "Hello\r\nBcc: victim@example.com"},
        {"headers": (("Message-ID", "<other@mailbox.test>"),)},
        {"headers": (("X-Note", "a\nb"),)},
    ],
)
def test_email_message_rejects_bad_fields(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(a_message(1), **overrides)


def test_smtp_settings_repr_hides_password() -> None:
    settings = SmtpSettings(username="alerts", password="s3cret")

    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("exc", "ours"),
    [
        (all_refused(550), False),  # the recipient's address: may end on paper
        (all_refused(450), False),  # the recipient's, for now: counts toward the budget
        (all_refused(530), True),  # authentication required: our session
        (all_refused(421), True),  # the server is closing: our session
        (aiosmtplib.SMTPDataError(554, "rejected"), False),
        (aiosmtplib.SMTPDataError(451, "later"), False),
        (aiosmtplib.SMTPDataError(421, "closing"), True),
        (aiosmtplib.SMTPSenderRefused(553, "bad sender", "x"), True),  # our sender address
        (aiosmtplib.SMTPSenderRefused(530, "authentication required", "x"), True),
        (aiosmtplib.SMTPAuthenticationError(535, "bad credentials"), True),
        (aiosmtplib.SMTPHeloError(501, "bad greeting"), True),
        (aiosmtplib.SMTPConnectResponseError(554, "no service"), True),
        (aiosmtplib.SMTPConnectError("refused"), True),
        (aiosmtplib.SMTPConnectTimeoutError("slow"), True),
        (aiosmtplib.SMTPServerDisconnected("gone"), True),
        (aiosmtplib.SMTPReadTimeoutError("slow"), True),
        (ConnectionRefusedError(), True),
        (ssl.SSLError("handshake"), True),
        (aiosmtplib.SMTPNotSupported("SMTPUTF8"), False),  # an address the server cannot take
        (ValueError("bad address"), False),
        (RuntimeError("unknown"), False),  # unknown: counted, so that the budget ends it
    ],
)
def test_classify_smtp_error_says_whose_fault_it_is(exc: Exception, ours: bool) -> None:
    outcome = classify_smtp_error(exc)

    assert (outcome.ok, outcome.ours) == (False, ours)


async def test_send_batch_server_down_is_our_fault(smtp_server: SmtpServer) -> None:
    smtp_server.stop()

    outcomes = await send_batch(smtp_server.settings(), [a_message(1), a_message(2)])

    assert [(o.ok, o.ours) for o in outcomes] == [(False, True), (False, True)]


async def test_send_batch_refused_recipient_is_not_our_fault(smtp_server: SmtpServer) -> None:
    smtp_server.reject_recipients({"gone@example.com"}, code=550)

    _, refused = await send_batch(
        smtp_server.settings(), [a_message(1), a_message(2, to="gone@example.com")]
    )

    assert (refused.ok, refused.permanent, refused.ours) == (False, True, False)


async def test_send_batch_connection_dropped_is_our_fault(smtp_server: SmtpServer) -> None:
    smtp_server.drop_connection_for({"applicant2@example.com"}, and_go_down=True)

    outcomes = await send_batch(smtp_server.settings(), [a_message(n) for n in (1, 2, 3)])

    assert [(o.ok, o.ours) for o in outcomes] == [(True, False), (False, True), (False, True)]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_send_batch_bad_login_or_certificate_is_our_fault() -> None:
    server = SmtpServer(tls="starttls", credentials=("alerts", "s3cret"))
    server.start()
    try:
        [refused] = await send_batch(server.settings(password="wrong"), [a_message(1)])
        [unverified] = await send_batch(server.settings(validate_certs=True), [a_message(2)])
        [plain] = await send_batch(server.settings(security="plain"), [a_message(3)])
    finally:
        server.stop()

    assert [(o.ok, o.ours) for o in (refused, unverified, plain)] == [(False, True)] * 3


def test_send_outcome_success_is_no_ones_fault() -> None:
    with pytest.raises(ValueError):
        SendOutcome(True, False, "accepted", 250, ours=True)
