"""The signed values a browser keeps for us (a half-finished log-in, a remembered device) are
read back only as made: for their own purpose, unaltered, before they expire."""

from __future__ import annotations

from datetime import timedelta

from mailbox import clock
from mailbox.identity.signed_values import SignedValues

KEY = b"k" * 32


def test_value_reads_back_for_its_purpose_until_it_expires() -> None:
    values = SignedValues(KEY)
    made = values.make("remembered-device", {"sub": "usr_1"}, lifetime=timedelta(minutes=5))
    try:
        assert values.read("remembered-device", made)["sub"] == "usr_1"
        clock.set_offset(timedelta(minutes=5, seconds=1))
        assert values.read("remembered-device", made) is None
    finally:
        clock.reset()


def test_altered_foreign_or_misused_values_are_refused() -> None:
    values = SignedValues(KEY)
    made = values.make("login-second-factor", {"sub": "usr_1"}, lifetime=timedelta(minutes=5))
    body, mac = made.split(".")
    forged_body = values.make("x", {"sub": "usr_2"}, lifetime=timedelta(minutes=5)).split(".")[0]

    assert values.read("remembered-device", made) is None  # another purpose
    assert SignedValues(b"o" * 32).read("login-second-factor", made) is None  # another key
    assert values.read("login-second-factor", f"{forged_body}.{mac}") is None  # altered
    for junk in (None, "", "no-dot", "a.b.c", f"{body}.", "!!!.00"):
        assert values.read("login-second-factor", junk) is None
