"""Health and metrics: ``/health/live``, ``/health/ready`` (503 with the failing check named)
and ``/metrics`` (served to the metrics networks or with the metrics token), whose figures
follow what the service does: a dispatch counted, an alert waiting while our mail server is
down, the email circuit open."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from mailbox.api.app import create_app
from mailbox.config import Settings
from mailbox.notifications.outbox import drain_until_idle
from mailbox.services import Services
from tests.factories import make_world, post_dispatch, token_for
from tests.fixtures.db import _pg_execute, both_backends
from tests.fixtures.service_process import free_port

METRICS_TOKEN = "scrape-me-7c1f0e"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, key_dir: Path) -> Settings:
    """Our own copy of the keys (a test takes one away); a mail server that is down; the
    metrics token set (the test client's address, 203.0.113.7, is no metrics network)."""
    keys = tmp_path / "keys"
    shutil.copytree(key_dir, keys)
    return settings.model_copy(
        update={
            "key_dir": keys,
            "smtp_host": "127.0.0.1",
            "smtp_port": free_port(),  # nothing listens: our mail server is down
            "smtp_timeout": 2.0,
            "metrics_token": SecretStr(METRICS_TOKEN),
        }
    )


SCRAPER = {"Authorization": f"Bearer {METRICS_TOKEN}"}


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple], float]:
    response = await client.get("/metrics", headers=SCRAPER)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_liveness_answers_without_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@both_backends
async def test_readiness_lists_every_check_and_is_ready(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "blobs", "keys", "email", "scheduler", "outbox"}
    assert {check["status"] for check in body["checks"].values()} == {"ok"}
    assert body["checks"]["scheduler"]["detail"] == "off in this process"
    assert body["checks"]["outbox"]["detail"].startswith("0 pending")


async def test_readiness_is_503_when_the_keys_cannot_be_loaded(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    (settings.effective_key_dir / "master.key").unlink()

    response = await client.get("/health/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["keys"]["status"] == "failing"
    assert "master.key" in body["checks"]["keys"]["detail"]
    assert body["checks"]["database"]["status"] == "ok"


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_readiness_is_503_when_the_database_is_gone(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    name = settings.database_url.rsplit("/", 1)[1]
    await _pg_execute(f'DROP DATABASE "{name}" WITH (FORCE)')

    response = await client.get("/health/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["status"] == "failing"
    assert body["checks"]["outbox"]["detail"] == "unknown: the database did not answer"
    assert body["checks"]["keys"]["status"] == "ok"  # the other checks still run
    assert (await client.get("/health/live")).status_code == 200


async def test_readiness_is_503_when_the_blob_store_takes_no_writes(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    blobs = settings.effective_blob_dir
    shutil.rmtree(blobs, ignore_errors=True)
    blobs.write_text("a file where the blob directory should be")

    response = await client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["blobs"]["status"] == "failing"
    assert response.json()["checks"]["blobs"]["detail"].startswith("cannot write")


async def test_metrics_are_refused_to_strangers_and_to_a_wrong_token(
    client: httpx.AsyncClient,
) -> None:
    stranger = await client.get("/metrics")  # 203.0.113.7: not a metrics network
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer guess"})

    assert stranger.status_code == 403
    assert stranger.headers["content-type"] == "application/problem+json"
    assert "MAILBOX_METRICS_NETWORKS" in stranger.json()["detail"]
    assert wrong.status_code == 401
    assert wrong.headers["content-type"] == "application/problem+json"


async def test_metrics_are_served_to_a_metrics_network_without_a_token(
    services: Services, settings: Settings
) -> None:
    app = create_app(services=services)
    local = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=local, base_url="http://mailbox.test") as http:
        response = await http.get("/metrics")

    assert response.status_code == 200
    assert "mailbox_outbox_depth" in response.text


@both_backends
async def test_a_dispatch_moves_the_counters_and_an_alert_waits_while_smtp_is_down(
    client: httpx.AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    before = await scrape(client)

    response = await post_dispatch(client, headers, world.account.id)
    assert response.status_code == 201, response.text
    after = await scrape(client)

    assert value(after, "mailbox_dispatches_total", outcome="delivered") == (
        value(before, "mailbox_dispatches_total", outcome="delivered") + 1
    )
    assert (
        value(after, "mailbox_seal_seconds_count")
        == value(before, "mailbox_seal_seconds_count") + 1
    )
    assert value(after, "mailbox_outbox_depth", channel="email") == 1  # the alert, pending
    assert value(after, "mailbox_evidence_records") == value(before, "mailbox_evidence_records") + 2
    assert value(after, "mailbox_checkpoint_age_seconds") == -1  # none made yet
    assert value(after, "mailbox_circuit_open", channel="email") == 0

    await drain_until_idle(services, worker_id="test-worker")  # our mail server is down
    down = await scrape(client)

    assert value(down, "mailbox_circuit_open", channel="email") == 1
    assert value(down, "mailbox_outbox_depth", channel="email") == 1  # waits; not dead
    assert value(down, "mailbox_outbox_oldest_age_seconds", channel="email") >= 0
    assert value(down, "mailbox_alerts_total", outcome="retrying") == (
        value(after, "mailbox_alerts_total", outcome="retrying") + 1
    )
    ready = (await client.get("/health/ready")).json()
    assert ready["status"] == "degraded"  # still ready: the instance serves, alerts wait
    assert ready["checks"]["email"]["status"] == "degraded"
    assert ready["checks"]["outbox"]["detail"].startswith("1 pending")


async def test_a_rejected_dispatch_is_counted_as_rejected(
    client: httpx.AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    before = await scrape(client)

    response = await post_dispatch(client, headers, world.account.id, pdf=b"not a pdf at all")
    assert response.status_code == 422, response.text

    after = await scrape(client)
    assert value(after, "mailbox_dispatches_total", outcome="rejected") == (
        value(before, "mailbox_dispatches_total", outcome="rejected") + 1
    )
    assert value(after, "mailbox_dispatches_total", outcome="delivered") == value(
        before, "mailbox_dispatches_total", outcome="delivered"
    )


async def test_openapi_documents_health_without_a_bearer_and_metrics_with_its_token(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]

    for path in ("/health/live", "/health/ready", "/healthz"):
        assert paths[path]["get"]["security"] == [{}], path
    assert "503" in paths["/health/ready"]["get"]["responses"]
    assert paths["/metrics"]["get"]["security"] == [{"MetricsToken": []}, {}]
    assert {"401", "403"} <= set(paths["/metrics"]["get"]["responses"])
