"""The form token that web forms carry: bound to one access token, computed only by this
install, and the same after a restart so that pages open in a browser keep working."""

from __future__ import annotations

from mailbox.identity.auth import TokenIssuer
from mailbox.signing.pki import KeyMaterial


def issuer(keys: KeyMaterial) -> TokenIssuer:
    return TokenIssuer(keys, audience="mailbox-api", ttl_seconds=900, issuer="http://mailbox.test")


def test_form_token_survives_a_restart_and_differs_per_session(key_material: KeyMaterial) -> None:
    running = issuer(key_material)
    first, second = running.issue("usr_1").token, running.issue("usr_1").token
    restarted = issuer(key_material)

    assert restarted.form_token(first) == running.form_token(first)
    assert running.form_token(first) != running.form_token(second)
    assert running.form_token_matches(first, running.form_token(first))


def test_form_token_of_another_session_or_garbage_does_not_match(
    key_material: KeyMaterial,
) -> None:
    running = issuer(key_material)
    mine, theirs = running.issue("usr_1").token, running.issue("usr_2").token

    assert not running.form_token_matches(mine, running.form_token(theirs))
    for submitted in ("", "0" * 64, "é", running.form_token(mine)[:-1]):
        assert not running.form_token_matches(mine, submitted)
