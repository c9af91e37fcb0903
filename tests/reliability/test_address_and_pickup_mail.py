"""The other emails the drain sends: the link that verifies a new notification address, and
alerts written to the pickup directory of a development or demo install."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from mailbox.models import Account, OutboxMessage
from mailbox.notifications.settings import add_address
from mailbox.services import Services
from tests.factories import deliver, make_world
from tests.fixtures.smtp import SmtpServer
from tests.reliability.test_alerts import drain, outbox, reload


async def test_verification_link_goes_to_the_new_address_only_and_its_token_is_forgotten(
    services: Services, smtp_server: SmtpServer
) -> None:
    world = await make_world(services)
    async with services.db.write() as session:
        account = await session.get(Account, world.account.id)
        address, token = await add_address(
            session=session, account=account, email="new.partner@example.com"
        )

    await drain(services)

    [arrived] = await smtp_server.wait_for(1)
    assert arrived.rcpt_tos == ("new.partner@example.com",)
    text = arrived.message.get_body(("plain",)).get_content()
    assert f"http://mailbox.test/api/v1/notification-addresses/verify?token={token}" in text
    [message] = await outbox(services, "email.verify_address")
    assert message.status == "done"
    assert "token" not in message.payload and message.payload["address_id"] == address.id


async def test_pickup_directory_receives_alerts_as_eml_files(
    services: Services, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    pickup = tmp_path / "outgoing-mail"
    local = Services.start(services.settings.model_copy(update={"email_pickup_dir": pickup}))
    try:
        world = await make_world(local)
        delivery = await deliver(local, world)
        await drain(local)
    finally:
        await local.close()

    [alert] = await outbox(services, "email.new_delivery")
    [written] = list(pickup.iterdir())
    assert written.name == f"{alert.id}@mailbox.test.eml"
    mail = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
    assert mail["To"] == "applicant@example.com"
    assert delivery.id in mail.get_body(("plain",)).get_content()
    assert smtp_server.messages == []
    assert (await reload(services, OutboxMessage, alert.id)).status == "done"
