"""The typed outbox: every kind belongs to one channel, every channel has one handler in the
drain's table, and the email channel's transport follows the settings."""

from __future__ import annotations

from pathlib import Path

from mailbox.channels import ChannelHandler
from mailbox.config import Settings
from mailbox.models import Channel, OutboxKind
from mailbox.notifications.email_channel import EmailChannel, email_transport
from mailbox.notifications.outbox import CHANNELS
from mailbox.notifications.webhook_events import WebhookChannel
from mailbox.paper.channel import PaperChannel
from mailbox.services import Services
from mailbox.transmissions.channel import TransmissionChannel
from notifier import PickupDirectory, SmtpTransport


def test_kind_values_are_the_ones_stored_in_the_database() -> None:
    assert {kind.value for kind in OutboxKind} == {
        "email.new_delivery",
        "email.reminder",
        "email.deemed_delivery",
        "email.digest",
        "email.verify_address",
        "email.coverage_reminder",
        "webhook.event",
        "webhook.delivery",
        "paper.job",
        "transmission.forward",
    }


def test_every_kind_is_carried_by_the_channel_its_name_starts_with() -> None:
    for kind in OutboxKind:
        assert kind.startswith(f"{kind.channel}.")
    assert {kind.channel for kind in OutboxKind} == set(Channel)


async def test_every_channel_has_one_registered_handler(services: Services) -> None:
    handlers = {channel: build(services) for channel, build in CHANNELS.items()}

    assert set(handlers) == set(Channel)
    assert all(isinstance(handler, ChannelHandler) for handler in handlers.values())
    assert isinstance(handlers[Channel.EMAIL], EmailChannel)
    assert isinstance(handlers[Channel.WEBHOOK], WebhookChannel)
    assert isinstance(handlers[Channel.TRANSMISSION], TransmissionChannel)
    assert isinstance(handlers[Channel.PAPER], PaperChannel)


def test_webhooks_are_recorded_before_emails_move_the_deliveries() -> None:
    order = list(CHANNELS)
    assert order.index(Channel.WEBHOOK) < order.index(Channel.EMAIL)


def test_email_goes_to_the_smtp_server_with_its_connections() -> None:
    settings = Settings(smtp_host="mail.example.org", smtp_port=2525, smtp_connections=6)

    transport = email_transport(settings)

    assert isinstance(transport, SmtpTransport)
    assert (transport.settings.host, transport.settings.port) == ("mail.example.org", 2525)
    assert transport.connections == 6


def test_email_goes_to_the_pickup_directory_when_one_is_configured(tmp_path: Path) -> None:
    settings = Settings(email_pickup_dir=tmp_path, smtp_sender="Mailbox <no-reply@x.test>")

    transport = email_transport(settings)

    assert isinstance(transport, PickupDirectory)
    assert transport.directory == tmp_path and transport.settings.sender == settings.smtp_sender
