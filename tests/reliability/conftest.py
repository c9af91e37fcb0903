"""Reliability tests run the service against the real SMTP server of ``smtp_server`` (the base
settings, pointed at it), with a short retry budget; tests drain the outbox by calling the
drain, as the scheduler would."""

from __future__ import annotations

import pytest

from mailbox.config import Settings
from tests.fixtures.smtp import SmtpServer


@pytest.fixture
def settings(settings: Settings, smtp_server: SmtpServer) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": smtp_server.host,
            "smtp_port": smtp_server.port,
            "smtp_timeout": 5.0,
            "smtp_sender": "Secure Mailbox <no-reply@mailbox.test>",
            "outbox_max_attempts": 3,
            # The tests' webhook receiver listens on 127.0.0.1.
            "webhook_allow_http_loopback": True,
            "webhook_allow_private_targets": True,
            "webhook_timeout_seconds": 5.0,
        }
    )
