"""The wire form of an email: `to_bytes` writes exactly what the standard generator writes for
the `email.mime` tree of the same message, whatever the headers hold."""

from __future__ import annotations

import email
import email.policy

import pytest
from aiosmtplib.email import flatten_message

from notifier import EmailMessage
from notifier.mime import build_mime, to_bytes

DATE = "Thu, 26 Nov 2026 08:36:38 GMT"
SENDERS = ["Mailbox <no-reply@mailbox.test>", '"Boîte aux lettres" <no-reply@mailbox.test>']


@pytest.mark.parametrize("sender", SENDERS)
@pytest.mark.parametrize(
    ("subject", "to", "headers"),
    [
        ("New document from Test Office: R71, EP00000001.1", ("a@example.com",), ()),
        (
            "Nouveau document de l'Office européen des brevets : R71, EP 24 123 456.7",
            ("Zoë Martin <zoe@example.com>", "b@example.com"),
            (("X-Note", "Grüße"),),
        ),
        ("A very long subject that has to be folded " * 4, ("a@example.com",), ()),
        ("  spaced   subject\twith a tab ", ("a@example.com",), ()),
        ("", tuple(f"user{n}@example.com" for n in range(12)), ()),
        ("x", ("a@example.com",), (("X-Mailbox-Delivery", "dlv_7"),)),
    ],
    ids=["ascii", "non-ascii", "long", "whitespace", "many-recipients", "extra-header"],
)
def test_to_bytes_is_what_the_standard_generator_writes(
    sender: str, subject: str, to: tuple[str, ...], headers: tuple[tuple[str, str], ...]
) -> None:
    message = EmailMessage(
        message_id="<msg_1@mailbox.test>",
        to=to,
        subject=subject,
        text="Délai : le document est disponible.\n" * 30,
        html="<p>Délai&nbsp;: disponible.</p>",
        headers=headers,
    )

    expected = flatten_message(build_mime(sender, message, date=DATE))

    assert to_bytes(sender, message, date=DATE) == expected


def test_to_bytes_parses_back_to_the_message() -> None:
    message = EmailMessage(
        message_id="<msg_2@mailbox.test>",
        to=("Zoë <zoe@example.com>",),
        subject="Délai",
        text="texte\n",
        html="<p>html</p>",
    )

    parsed = email.message_from_bytes(
        to_bytes("M <m@x.test>", message), policy=email.policy.default
    )

    assert parsed["Subject"] == "Délai" and parsed["To"] == "Zoë <zoe@example.com>"
    assert parsed.get_body(("plain",)).get_content() == "texte\n"
    assert parsed.get_body(("html",)).get_content() == "<p>html</p>"
