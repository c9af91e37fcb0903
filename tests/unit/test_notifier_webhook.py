"""Signed webhooks: the signature scheme, and real POSTs to a receiver on 127.0.0.1."""

from __future__ import annotations

import httpx
import pytest

from notifier import SIGNATURE_HEADER, post_webhook, sign_payload, verify_signature
from tests.fixtures.smtp import WebhookReceiver, free_port

SECRET = "whsec_test"
BODY = b'{"event":"delivery.available"}'
NOW = 1_700_000_000


async def post(url: str, *, timeout: float = 2.0, body: bytes = BODY, timestamp: int = NOW):
    async with httpx.AsyncClient(timeout=timeout) as client:
        return await post_webhook(
            client,
            url,
            SECRET,
            body,
            event_id="evt_1",
            event_type="delivery.available",
            timestamp=timestamp,
        )


def test_sign_payload_matches_the_documented_scheme() -> None:
    # HMAC-SHA256(secret, "1700000000." + body), as a receiver in any language computes it.
    expected = "t=1700000000,v1=c4514df0b6767ddb30f69d09e957864992bc32db427577cc6dc31ab2edf54d72"

    assert sign_payload(SECRET, NOW, BODY) == expected


async def test_post_webhook_signature_verifies_at_the_receiver(
    webhook_receiver: WebhookReceiver,
) -> None:
    outcome = await post(webhook_receiver.url)

    assert (outcome.ok, outcome.code) == (True, 204)
    [request] = webhook_receiver.requests
    assert request.method == "POST"
    assert request.path == "/hooks/mailbox"
    assert request.body == BODY
    assert request.headers["content-type"] == "application/json"
    assert request.headers["mailbox-event-id"] == "evt_1"
    assert request.headers["mailbox-event-type"] == "delivery.available"
    signature = request.headers[SIGNATURE_HEADER.lower()]
    assert verify_signature(SECRET, signature, request.body, now=NOW + 10)


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        ("whsec_other", BODY, NOW),  # wrong secret
        (SECRET, BODY.replace(b"available", b"picked_up"), NOW),  # tampered body
        (SECRET, BODY + b" ", NOW),  # one byte added
        (SECRET, BODY, NOW + 301),  # stale
        (SECRET, BODY, NOW - 301),  # from the future
    ],
)
def test_verify_signature_rejects(secret: str, body: bytes, now: int) -> None:
    header = sign_payload(SECRET, NOW, BODY)

    assert not verify_signature(secret, header, body, now=now)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        "v1=c4514df0b6767ddb30f69d09e957864992bc32db427577cc6dc31ab2edf54d72",  # no time
        f"t={NOW}",  # no signature
        f"t=²,v1={sign_payload(SECRET, NOW, BODY).split('v1=')[1]}",
        f"t={NOW + 1},v1={sign_payload(SECRET, NOW, BODY).split('v1=')[1]}",  # time moved
    ],
)
def test_verify_signature_rejects_malformed_header(header: str) -> None:
    assert not verify_signature(SECRET, header, BODY, now=NOW)


def test_verify_signature_accepts_any_listed_signature() -> None:
    # During a secret rotation the sender may list one signature per secret.
    old = sign_payload("whsec_old", NOW, BODY).split(",")[1]
    header = f"{sign_payload(SECRET, NOW, BODY)},{old}"

    assert verify_signature(SECRET, header, BODY, now=NOW)
    assert verify_signature("whsec_old", header, BODY, now=NOW)


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(500, False), (503, False), (408, False), (429, False), (410, True), (400, True)],
)
async def test_post_webhook_error_status_classified(
    webhook_receiver: WebhookReceiver, status: int, permanent: bool
) -> None:
    webhook_receiver.respond_with(status)

    outcome = await post(webhook_receiver.url)

    assert (outcome.ok, outcome.permanent, outcome.code) == (False, permanent, status)
    assert str(status) in outcome.detail


async def test_post_webhook_does_not_follow_redirects(webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.respond_with(308)

    outcome = await post(webhook_receiver.url)

    assert (outcome.ok, outcome.permanent, outcome.code) == (False, True, 308)
    assert len(webhook_receiver.requests) == 1


async def test_post_webhook_unreachable_port_is_retryable() -> None:
    outcome = await post(f"http://127.0.0.1:{free_port()}/hook")

    assert (outcome.ok, outcome.permanent) == (False, False)
    assert outcome.detail.startswith("connection error")


async def test_post_webhook_timeout_is_retryable(webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.respond_with(204, delay=0.5)

    outcome = await post(webhook_receiver.url, timeout=0.1)

    assert (outcome.ok, outcome.permanent, outcome.detail) == (False, False, "timeout")


async def test_post_webhook_unsupported_scheme_is_permanent() -> None:
    outcome = await post("ftp://127.0.0.1/hook")

    assert (outcome.ok, outcome.permanent) == (False, True)


async def test_post_webhook_failures_are_never_ours(webhook_receiver: WebhookReceiver) -> None:
    # A receiver down or failing is the receiver's endpoint: it keeps counting as before.
    webhook_receiver.respond_with(503)

    failing = await post(webhook_receiver.url)
    unreachable = await post(f"http://127.0.0.1:{free_port()}/hook")

    assert (failing.ours, unreachable.ours) == (False, False)
