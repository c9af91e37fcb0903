"""Settings: defaults that run on one machine, MAILBOX_* variables, an optional TOML file, and
clear refusals of bad values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from mailbox.config import Settings
from tests.fixtures.service_process import clean_env

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_run_on_one_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MAILBOX_"):
            monkeypatch.delenv(name)
    settings = Settings()
    assert settings.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.effective_blob_dir == settings.data_dir / "blobs"
    assert settings.effective_key_dir == settings.data_dir / "keys"
    assert settings.upload_limit_bytes == 50 * 1024 * 1024
    assert settings.deemed_days_for("EP") == settings.deemed_delivery_days


def test_environment_and_toml_file_are_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "mailbox.toml"
    config.write_text(
        'public_base_url = "https://mailbox.example"\n'
        "upload_limit_bytes = 1000\n"
        "[deemed_delivery_days_by_office]\nEP = 10\nDE = 7\n"
    )
    monkeypatch.setenv("MAILBOX_CONFIG_FILE", str(config))
    monkeypatch.setenv("MAILBOX_UPLOAD_LIMIT_BYTES", "2000")  # the environment wins
    settings = Settings()
    assert settings.public_base_url == "https://mailbox.example"
    assert settings.upload_limit_bytes == 2000
    assert settings.deemed_days_for("DE") == 7


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILBOX_SMTP_SECURITY", "carrier-pigeon")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.delenv("MAILBOX_SMTP_SECURITY")
    monkeypatch.setenv("MAILBOX_SMTP_PASSWORD", "secret")
    with pytest.raises(ValidationError, match="smtp_username"):
        Settings()


def test_metrics_settings_refuse_a_bad_network_and_keep_the_token_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAILBOX_METRICS_NETWORKS", '["10.0.0.0/8", "prometheus.local"]')
    with pytest.raises(ValidationError, match=r"'prometheus\.local' is not an address or network"):
        Settings()
    monkeypatch.setenv("MAILBOX_METRICS_NETWORKS", '["10.0.0.0/8"]')
    monkeypatch.setenv("MAILBOX_METRICS_TOKEN", "scrape-secret")
    described = Settings().describe()
    assert described["metrics_token"] == "********"
    assert "scrape-secret" not in str(described)


def test_cli_names_the_bad_setting_and_masks_secrets(tmp_path: Path) -> None:
    env = {**os.environ, "MAILBOX_DATA_DIR": str(tmp_path), "MAILBOX_PORT": "not-a-port"}
    result = subprocess.run(
        [sys.executable, "-m", "mailbox", "settings"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "port" in result.stderr.lower()
    assert "Traceback" not in result.stderr

    env.update(
        MAILBOX_PORT="8080",
        MAILBOX_SMTP_SECURITY="starttls",
        MAILBOX_SMTP_USERNAME="u",
        MAILBOX_SMTP_PASSWORD="hunter2",
    )
    shown = subprocess.run(
        [sys.executable, "-m", "mailbox", "settings"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert "hunter2" not in shown.stdout
    assert '"port": 8080' in shown.stdout


def test_missing_config_file_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MAILBOX_CONFIG_FILE", str(tmp_path / "nope.toml"))
    with pytest.raises(FileNotFoundError, match=r"nope\.toml"):
        Settings()


def _demo_setup(data_dir: Path, **settings: str) -> str:
    """Run ``demo --no-serve`` in a clean environment; return what it printed."""
    result = subprocess.run(
        [sys.executable, "-m", "mailbox", "demo", "--no-serve"],
        cwd=ROOT,
        env=clean_env(data_dir=str(data_dir), sealing_workers="0", **settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_demo_without_an_smtp_server_writes_alerts_to_files(tmp_path: Path) -> None:
    printed = _demo_setup(tmp_path / "data")

    assert f"alert emails are written to {tmp_path / 'data' / 'outgoing-mail'}" in printed


@pytest.mark.parametrize("source", ["environment", "config file"])
def test_demo_with_an_smtp_server_sends_alerts_to_it(tmp_path: Path, source: str) -> None:
    if source == "environment":
        printed = _demo_setup(tmp_path / "data", smtp_host="smtp.demo.test")
    else:
        config = tmp_path / "mailbox.toml"
        config.write_text('smtp_host = "smtp.demo.test"\n')
        printed = _demo_setup(tmp_path / "data", config_file=str(config))

    assert "alert emails go to the SMTP server smtp.demo.test:25" in printed
