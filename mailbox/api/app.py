"""The litestar application: routes, dependencies, problem details, OpenAPI, and the start-up
that loads the service's parts and refuses to run on an un-migrated database."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from litestar import Litestar, Router
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, YamlRenderPlugin
from litestar.openapi.spec import Components, OAuthFlow, OAuthFlows, SecurityScheme
from litestar.routes import HTTPRoute
from litestar.template import TemplateConfig
from litestar.types import Message, Scope
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.api.bodies import declared_media_type_only
from mailbox.api.dependencies import provide_services, provide_session
from mailbox.api.headers import security_headers
from mailbox.api.pages import account as account_pages
from mailbox.api.pages import batches as batch_pages
from mailbox.api.pages import coverage as coverage_pages
from mailbox.api.pages import downloads as download_pages
from mailbox.api.pages import inbox as inbox_pages
from mailbox.api.pages import office as office_pages
from mailbox.api.pages import office_form as office_form_pages
from mailbox.api.pages import outages as outage_pages
from mailbox.api.pages import paper as paper_pages
from mailbox.api.pages import settings as settings_pages
from mailbox.api.pages import transmissions as transmission_pages
from mailbox.api.pages import two_factor as two_factor_pages
from mailbox.api.problems import exception_handlers
from mailbox.api.routes import (
    auth,
    batches,
    clients,
    clock,
    coverage,
    deliveries,
    directory,
    dispatches,
    events,
    notifications,
    operations,
    outages,
    paper,
    paper_kinds,
    transmissions,
    webhooks,
)
from mailbox.api.schemas.rules import RulesSchemaPlugin
from mailbox.api.security import authenticate, provide_principal
from mailbox.config import TEMPLATES_DIR, Settings
from mailbox.db import assert_migrated
from mailbox.identity.policy import ROUTES, SCOPE_DESCRIPTIONS
from mailbox.identity.principal import Principal
from mailbox.services import Services

if TYPE_CHECKING:
    from mailbox.operations.scheduling import PeriodicJobs

__all__ = ["create_app"]

log = logging.getLogger("mailbox")

# Largest body of a request other than a dispatch (JSON, forms): far more than any needs.
BODY_LIMIT = 1024 * 1024


def _start_jobs(services: Services) -> PeriodicJobs | None:
    """The periodic jobs of this process; ``None``, said loudly, when another process already
    runs them on this SQLite database: the web service then serves without them."""
    from mailbox.operations.scheduling import SchedulerTaken, start_scheduler

    try:
        return start_scheduler(services)
    except SchedulerTaken as taken:
        services.scheduler = f"not running here: {taken.detail}"
        log.critical(
            "SERVING WITHOUT THE SCHEDULER: no alert, reminder, deemed delivery or checkpoint "
            "is sent or made by this process. %s",
            taken.detail,
        )
        return None


async def _allow_every_method(message: Message, scope: Scope) -> None:
    """An ``OPTIONS`` answer's ``Allow`` names every method of its path. (litestar builds the
    header when the first handler of a path is registered, so it misses the methods of handlers
    registered after it on the same path.)"""
    if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
        return
    template = scope.get("path_template")
    route = next(
        (r for r in scope["app"].routes if isinstance(r, HTTPRoute) and r.path_format == template),
        None,
    )
    if route is not None:
        headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
        headers.append((b"allow", ", ".join(sorted(route.methods)).encode()))
        message["headers"] = headers


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> Litestar:
    """Build the app. ``services`` may be given (tests, benchmarks); otherwise they are started
    from ``settings`` when the app starts and closed when it stops."""
    settings = settings or (services.settings if services else Settings())

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        owned = services is None
        running = services or Services.start(settings)
        try:
            await assert_migrated(running.db)
            app.state.services = running
            jobs = _start_jobs(running) if owned and settings.scheduler_enabled else None
            if owned and not settings.scheduler_enabled:
                running.scheduler = "off in this process (MAILBOX_SCHEDULER_ENABLED=false)"
            try:
                yield
            finally:
                if jobs is not None:
                    # Requests are done (the server waited for them): let the drain round in
                    # progress finish before the parts it uses close.
                    await jobs.stop(settings.shutdown_grace_seconds)
        finally:
            if owned:
                await running.close()

    app = Litestar(
        route_handlers=[
            *operations.routes,
            auth.issue_token,
            auth.change_own_password,
            auth.jwks,
            # Only a dispatch carries a document (through the API or the workspace's form):
            # the upload limit and room for its fields.
            Router(
                "/",
                route_handlers=[dispatches.create_dispatch, office_form_pages.submit_dispatch],
                request_max_body_size=settings.upload_limit_bytes + BODY_LIMIT,
            ),
            # A transmission carries its package within the same limit.
            Router(
                "/",
                route_handlers=[transmissions.send],
                request_max_body_size=settings.upload_limit_bytes + BODY_LIMIT,
            ),
            *transmissions.routes,
            dispatches.read_dispatch,
            dispatches.list_office_dispatches,
            # A bulk dispatch carries many: its own limit, its parts streamed to disk.
            Router(
                "/",
                route_handlers=[batches.upload_batch, batch_pages.upload_batch_page],
                request_max_body_size=settings.batch_upload_limit_bytes + BODY_LIMIT,
            ),
            *batches.routes,
            *batch_pages.routes,
            deliveries.inbox,
            deliveries.read_delivery,
            deliveries.download_document,
            deliveries.download_seal,
            deliveries.download_proof,
            *notifications.routes,
            *webhooks.routes,
            *directory.routes,
            *clock.routes,
            *coverage.routes,
            *paper_kinds.routes,
            *clients.routes,
            *outages.routes,
            *events.routes,
            *inbox_pages.routes,
            *outage_pages.routes,
            *paper.routes,
            *paper_pages.routes,
            *download_pages.routes,
            *settings_pages.routes,
            *account_pages.routes,
            *two_factor_pages.routes,
            *office_pages.routes,
            *office_form_pages.routes,
            *transmission_pages.routes,
            *coverage_pages.routes,
        ],
        dependencies={
            "services": Provide(provide_services, sync_to_thread=False),
            "principal": Provide(provide_principal),
            "session": Provide(provide_session),
        },
        # The caller and the body's media type are checked before any of the body is read.
        guards=[authenticate, declared_media_type_only],
        exception_handlers=exception_handlers,
        middleware=[security_headers(settings)],
        before_send=[_allow_every_method],
        plugins=[RulesSchemaPlugin()],
        lifespan=[lifespan],
        request_max_body_size=BODY_LIMIT,
        template_config=TemplateConfig(
            directory=TEMPLATES_DIR / "web",
            engine=JinjaTemplateEngine,
            engine_callback=inbox_pages.register_template_callables,
        ),
        openapi_config=OpenAPIConfig(
            title="Secure electronic-delivery mailbox",
            # Semantic versioning (WIPO ST.90): the major version is the one in the paths.
            version="1.0.0",
            path="/schema",
            # The document only (JSON at /schema and /schema/openapi.json, and YAML): the
            # viewer pages load unpinned scripts from a CDN, which our CSP rightly forbids.
            render_plugins=[JsonRenderPlugin(path=["/", "/openapi.json"]), YamlRenderPlugin()],
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        bearer_format="JWT",
                        description="Access token from POST /api/v1/auth/token",
                    ),
                    # How a machine client gets its bearer token, and the scopes it may hold.
                    "ClientCredentials": SecurityScheme(
                        type="oauth2",
                        description="Machine clients: grant_type=client_credentials with a "
                        "private_key_jwt client assertion (RFC 7523); the token is then used "
                        "as BearerToken. Each operation needs one scope (its description).",
                        flows=OAuthFlows(
                            client_credentials=OAuthFlow(
                                token_url="/api/v1/auth/token",
                                scopes={s.value: d for s, d in SCOPE_DESCRIPTIONS.items()},
                            )
                        ),
                    ),
                    "MetricsToken": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="MAILBOX_METRICS_TOKEN (GET /metrics only; not needed "
                        "from MAILBOX_METRICS_NETWORKS)",
                    ),
                }
            ),
            security=[{"BearerToken": []}],
        ),
        signature_namespace={
            "AsyncSession": AsyncSession,
            "Principal": Principal,
            "Services": Services,
        },
        # Given services are usable at once, without running the lifespan (tests, benchmarks).
        state=State({"services": services} if services is not None else {}),
        debug=False,
    )
    _document_scopes(app)
    return app


def _document_scopes(app: Litestar) -> None:
    """Each operation a machine client may call says so in the OpenAPI document: a bearer
    token, or a client's token holding the scope the route policy table names for it."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for method in handler.http_methods:
                entry = ROUTES.get(f"{method} {route.path_format}")
                if entry is not None and entry.scope is not None and handler.security is None:
                    handler.security = [
                        {"BearerToken": []},
                        {"ClientCredentials": [entry.scope.value]},
                    ]
