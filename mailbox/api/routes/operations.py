"""Operations endpoints: liveness (``/health/live``, and ``/healthz`` as before), readiness
(``/health/ready``, 503 when this instance cannot serve) and Prometheus metrics (``/metrics``).

Who may read them is :data:`mailbox.identity.policy.OBSERVERS`: the health checks anyone (a
load balancer probes without credentials, and they tell nothing personal), the metrics a
scraper only: a client in ``MAILBOX_METRICS_NETWORKS`` (loopback by default) or one showing
``MAILBOX_METRICS_TOKEN`` as a bearer token.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

from litestar import Response, get
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from msgspec import Struct
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.api.problems import problem_responses
from mailbox.api.security import client_address
from mailbox.errors import NotAuthenticated, PermissionDenied
from mailbox.identity.policy import Observation, can_observe
from mailbox.metrics import CONTENT_TYPE
from mailbox.models import Channel
from mailbox.operations.health import readiness, scrape
from mailbox.services import Services

__all__ = ["routes"]

TAGS = ["operations"]
NO_TOKEN: list[dict[str, list[str]]] = [{}]  # anyone: no access token


class CheckPublic(Struct):
    status: str  # ok, degraded (works; an operator should look) or failing (cannot serve)
    detail: str


class ReadinessPublic(Struct):
    """``status`` is ``ready``, ``degraded`` (every check passes or is only degraded) or ``not
    ready`` (a check is failing: the answer is then 503)."""

    status: str
    checks: dict[str, CheckPublic]


class LivenessPublic(Struct):
    status: str


@get(
    "/health/live",
    tags=TAGS,
    summary="Liveness: the process answers",
    security=NO_TOKEN,
    cache_control=None,
)
async def live() -> LivenessPublic:
    """200 while the process runs its event loop; checks nothing else (a restart would not
    mend a database or a mail server)."""
    return LivenessPublic("ok")


@get("/healthz", tags=TAGS, summary="Liveness, and the email circuit", security=NO_TOKEN)
async def healthz(services: Services) -> dict[str, str]:
    """Alive, and whether email goes out: ``"email": "ok"`` or since when and why its
    circuit is open (our mail server or disk failing, as this process sees it)."""
    return {"status": "ok", "email": services.circuits[Channel.EMAIL].health()}


@get(
    "/health/ready",
    tags=TAGS,
    summary="Readiness: may this instance take requests",
    security=NO_TOKEN,
    responses={
        503: ResponseSpec(
            ReadinessPublic,
            description="Not ready: a check is failing (database, blob store or keys).",
        )
    },
)
async def ready(services: Services) -> Response[ReadinessPublic]:
    """Each check with its status and what was found: ``database`` (reachable and migrated),
    ``blobs`` (the blob store takes writes), ``keys`` (load from disk), ``email`` (this
    process's circuit breaker), ``scheduler`` (where the periodic jobs run), ``outbox`` (what
    waits, and for how long). 503 when one is failing; an open email circuit or an old outbox
    message only makes the answer ``degraded``: the instance still serves."""
    found = await readiness(services)
    body = ReadinessPublic(
        found.status,
        {name: CheckPublic(check.status, check.detail) for name, check in found.checks.items()},
    )
    return Response(body, status_code=200 if found.ready else 503)


async def scrapers_only(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard of ``/metrics``: 401 for a wrong metrics token, 403 for a client outside the
    metrics networks without one."""
    settings = connection.app.state.services.settings
    header = connection.headers.get("authorization")
    scraper = False
    if header:
        scheme, _, token = header.partition(" ")
        expected = settings.metrics_token
        if (
            expected is None
            or scheme.lower() != "bearer"
            or not hmac.compare_digest(token.strip().encode(), expected.get_secret_value().encode())
        ):
            raise NotAuthenticated("Not the metrics token (MAILBOX_METRICS_TOKEN)")
        scraper = True
    else:
        scraper = _in_networks(client_address(connection), settings.metrics_networks)  # type: ignore[arg-type]
    if not can_observe(Observation.METRICS, scraper=scraper):
        raise PermissionDenied(
            "Metrics are served to the addresses in MAILBOX_METRICS_NETWORKS, or with the "
            "metrics token (MAILBOX_METRICS_TOKEN) as a bearer token"
        )


@get(
    "/metrics",
    tags=TAGS,
    summary="Prometheus metrics",
    guards=[scrapers_only],
    security=[{"MetricsToken": []}, {}],
    media_type=CONTENT_TYPE,
    responses=problem_responses(401, 403),
)
async def metrics(services: Services, session: AsyncSession) -> Response[bytes]:
    """The Prometheus text format. Counters and the seal-time histogram are this process's
    since it started; outbox depth and age, evidence records and checkpoint age are read from
    the database now, the same from any process; the circuit state is this process's."""
    return Response(await scrape(services, session=session), media_type=CONTENT_TYPE)


def _in_networks(address: str | None, networks: list[str]) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network, strict=False) for network in networks)


routes = [live, healthz, ready, metrics]
