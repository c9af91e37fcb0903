"""The operator's outbox commands: `outbox list --dead|--pending` shows what waits or failed for
good (channel, kind, attempts, age, last error), and `outbox retry` puts a dead message back in
the queue, logged, so that it goes out once its cause is fixed; bad requests change nothing."""

from __future__ import annotations

import json

from mailbox.models import OutboxMessage
from mailbox.services import Services
from tests.factories import deliver, make_world
from tests.fixtures.cli import run_cli
from tests.fixtures.smtp import SmtpServer, WebhookReceiver
from tests.reliability.test_alerts import drain, outbox, reload
from tests.reliability.test_webhooks import subscribe


async def test_a_dead_webhook_retried_by_the_operator_goes_out_once_fixed(
    services: Services, smtp_server: SmtpServer, webhook_receiver: WebhookReceiver
) -> None:
    world = await make_world(services)
    await subscribe(services, world, webhook_receiver.url)
    webhook_receiver.respond_with(410)  # the receiver says: gone, do not retry
    smtp_server.fail_temporarily(1)  # the alert waits for another try
    await deliver(services, world)
    await drain(services)
    [dead] = await outbox(services, "webhook.delivery")
    [alert] = await outbox(services, "email.new_delivery")
    assert (dead.status, alert.status) == ("dead", "pending")

    code, out, err = await run_cli(services.settings, "--json", "outbox", "list", "--dead")
    assert code == 0, err
    listed = json.loads(out)
    assert listed["total"] == 1
    [item] = listed["items"]
    assert (item["id"], item["channel"], item["kind"]) == (dead.id, "webhook", "webhook.delivery")
    assert (item["attempts"], item["last_error"]) == (1, "HTTP 410")
    assert item["age_seconds"] >= 0 and item["delivery_id"] is not None

    code, out, err = await run_cli(services.settings, "outbox", "list", "--pending")
    assert code == 0, err
    assert out.startswith("1 pending message(s)")
    assert alert.id in out and "email.new_delivery" in out and "451" in out

    webhook_receiver.respond_with(204)  # the subscriber fixed its endpoint
    code, out, err = await run_cli(services.settings, "--json", "outbox", "retry", dead.id)
    assert code == 0, err
    assert json.loads(out) == {"retried": [dead.id]}
    logged = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert [(e["level"], e["outbox_id"]) for e in logged] == [("WARNING", dead.id)]
    assert "put back in the queue" in logged[0]["message"] and "HTTP 410" in logged[0]["message"]
    retried = await reload(services, OutboxMessage, dead.id)
    assert (retried.status, retried.attempts, retried.done_at) == ("pending", 0, None)

    await drain(services)
    assert (await reload(services, OutboxMessage, dead.id)).status == "done"
    assert len(webhook_receiver.requests) == 2

    # A message that is not dead is not retried, and nothing changes.
    code, _, err = await run_cli(services.settings, "outbox", "retry", dead.id)
    assert code == 2
    assert err.strip() == f"Error: Outbox message {dead.id} is done, not dead: not retried"
    code, out, _ = await run_cli(services.settings, "outbox", "retry", "--all-dead")
    assert (code, out.strip()) == (0, "No dead messages.")


async def test_outbox_commands_refuse_unclear_requests_with_one_line(services: Services) -> None:
    cases = [
        (("outbox", "list"), "Error: say which messages: --dead or --pending"),
        (("outbox", "retry"), "Error: give one message id or --all-dead, not both"),
        (("outbox", "retry", "msg_x", "--all-dead"), "Error: give one message id or --all-dead"),
        (("outbox", "retry", "msg_unknown"), "Error: No outbox message msg_unknown"),
    ]
    for args, message in cases:
        code, out, err = await run_cli(services.settings, *args)
        assert code == 2, (args, out, err)
        assert err.strip().startswith(message), err
        assert len(err.strip().splitlines()) == 1, err
