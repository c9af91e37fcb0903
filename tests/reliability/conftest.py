"""Reliability tests run the service against the real SMTP server of ``smtp_server``, with a
short retry budget; the outbox is drained by calling the drain, as the scheduler would."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailbox.config import Settings
from tests.fixtures.smtp import SmtpServer


@pytest.fixture
def settings(tmp_path: Path, database_url: str, key_dir: Path, smtp_server: SmtpServer) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        key_dir=key_dir,
        sealing_workers=0,
        scheduler_enabled=False,
        public_base_url="http://mailbox.test",
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_timeout=5.0,
        smtp_sender="Secure Mailbox <no-reply@mailbox.test>",
        outbox_max_attempts=3,
        webhook_allow_http_loopback=True,
        webhook_timeout_seconds=5.0,
    )
