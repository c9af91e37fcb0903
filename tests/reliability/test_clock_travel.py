"""`python -m mailbox clock advance 7d` on a test install: the clock moves forward for the
command and for the running service alike, and the jobs that fell due run at once, so that a
delivery is reminded, then deemed delivered, with its emails on the real SMTP server and its
evidence. Refused on an install that is no demo or test install."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlmodel import col, select

from mailbox import clock
from mailbox.config import Settings
from mailbox.models import Delivery, EvidenceRecord
from mailbox.notifications.outbox import drain_until_idle
from mailbox.operations.demo import seed_demo
from mailbox.services import Services
from tests.factories import deliver, make_world
from tests.fixtures.cli import run_cli
from tests.fixtures.smtp import SmtpServer


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"clock_travel": True, "reminder_days": [3]})


@pytest.fixture
def travel_env(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, smtp_server: SmtpServer
) -> None:
    """The command's environment: this test install, its SMTP server and its settings."""
    monkeypatch.setenv("MAILBOX_CLOCK_TRAVEL", "true")
    monkeypatch.setenv("MAILBOX_SMTP_HOST", smtp_server.host)
    monkeypatch.setenv("MAILBOX_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("MAILBOX_SMTP_SENDER", settings.smtp_sender)
    monkeypatch.setenv("MAILBOX_REMINDER_DAYS", "[3]")


async def _advance(settings: Settings, duration: str) -> dict:
    code, out, err = await run_cli(settings, "--json", "clock", "advance", duration)
    assert code == 0, out + err
    return json.loads(out)


async def test_advancing_the_clock_reminds_then_deems_delivered_with_mail_and_evidence(
    services: Services, settings: Settings, smtp_server: SmtpServer, travel_env: None
) -> None:
    world = await make_world(services, deemed_days=10)
    delivery = await deliver(services, world, dossier_number="EP24000777.1")
    await drain_until_idle(services, worker_id="w")
    [alert] = await smtp_server.wait_for(1)
    assert alert.message["Subject"].startswith("New document from")

    reminded = await _advance(settings, "4d")

    assert (reminded["reminders"], reminded["deemed_delivered"]) == (1, 0)
    assert reminded["drained"] is True and reminded["sent"] == 1
    assert reminded["travelled_seconds"] == timedelta(days=4).total_seconds()
    arrived = await smtp_server.wait_for(2)
    assert arrived[-1].message["Subject"].startswith("Reminder: unopened document from")
    assert "EP24000777.1" in arrived[-1].message["Subject"]
    # This process follows the same clock as the command.
    assert clock.now() - reminded_time(reminded) < timedelta(minutes=1)

    deemed = await _advance(settings, "6d")
    await _advance(settings, "12h")  # nothing more falls due: nothing is done twice

    assert (deemed["reminders"], deemed["deemed_delivered"]) == (0, 1)
    arrived = await smtp_server.wait_for(3)
    assert arrived[-1].message["Subject"].startswith("Document deemed delivered")
    assert len(smtp_server.messages) == 3
    async with services.db.session() as session:
        stored = await session.get(Delivery, delivery.id)
        records = (
            await session.exec(
                select(EvidenceRecord)
                .where(EvidenceRecord.delivery_id == delivery.id)
                .order_by(col(EvidenceRecord.seq))
            )
        ).all()
    assert stored.status == "deemed_delivered"
    assert stored.deemed_delivered_at == stored.available_at + timedelta(days=10)
    [record] = [r for r in records if r.type == "DeemedDelivery"]
    legal = record.details["legal_date"]
    assert legal["basis"] == "deemed"
    assert legal["sentence"].endswith("it was not opened before.")
    assert record.occurred_at >= stored.available_at + timedelta(days=10)  # travelled time


def reminded_time(report: dict):
    from mailbox.timefmt import parse_rfc3339

    return parse_rfc3339(report["now"])


async def test_a_real_install_refuses_to_travel_and_nothing_moves(
    services: Services, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAILBOX_CLOCK_TRAVEL", raising=False)
    before = clock.now()

    code, out, err = await run_cli(settings, "clock", "advance", "7d")

    assert code == 3, out + err
    assert err.startswith("Refused: time travel is for demo and test installs only")
    assert "MAILBOX_CLOCK_TRAVEL=true" in err
    assert not settings.clock_travel_file.exists()
    assert clock.now() - before < timedelta(minutes=1)


async def test_the_demo_install_may_travel_without_the_setting(
    services: Services, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAILBOX_CLOCK_TRAVEL", raising=False)
    monkeypatch.setenv("MAILBOX_EMAIL_PICKUP_DIR", str(settings.data_dir / "outgoing-mail"))
    plain = settings.model_copy(update={"clock_travel": False})
    assert not plain.clock_travel_allowed

    await seed_demo(plain)  # as `python -m mailbox demo` does: it marks its install

    assert plain.clock_travel_allowed
    code, out, err = await run_cli(plain, "clock", "advance", "30m")
    assert code == 0, out + err
    assert "Clock advanced by 30m" in out and "0d 0h 30m ahead of real time" in out
    code, out, err = await run_cli(plain, "clock", "show")
    assert code == 0, out + err
    assert "0d 0h 30m ahead of real time; time travel allowed here" in out


@pytest.mark.parametrize("duration", ["7", "7w", "-3d", "0d", "1.5d", "99999999d", ""])
async def test_a_bad_duration_is_refused_with_exit_2(
    services: Services, settings: Settings, travel_env: None, duration: str
) -> None:
    code, out, err = await run_cli(settings, "clock", "advance", duration)

    assert code == 2, out + err
    assert "Error: " in err and "Traceback" not in err
    assert not settings.clock_travel_file.exists()
