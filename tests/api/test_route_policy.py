"""Authorisation as data: every route of the app, called as every kind of principal, answers
what the one table says (``mailbox.identity.policy.ROUTES`` with ``POLICY``): allowed, or
refused with 401, 403, 404 (or, for a page, sent to the log-in page). A route the table does
not name fails the suite, and so does an entry naming no route.

The routes come from the app's own route table, so a route added later is checked (or fails)
without anyone remembering to add it here. Each kind of principal holds at most one role on
the world's account or office; "allowed" means the route did not refuse it (it may still answer
409 or 422 about the request itself).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from httpx import AsyncClient, Response
from litestar.routes import HTTPRoute

from mailbox.api.app import create_app
from mailbox.api.security import FORM_TOKEN_FIELD, SESSION_COOKIE
from mailbox.clock import now
from mailbox.deliveries.dispatch import DispatchRequest, dispatch
from mailbox.deliveries.outages import record_outage
from mailbox.identity.admin import create_user, grant_role, open_office_mailbox
from mailbox.identity.clients import ASSERTION_TYPE, register_client
from mailbox.identity.policy import POLICY, ROUTES, Access, Route, Scope, scopes_allowed
from mailbox.models import Account, PrintBatch, Role
from mailbox.notifications.outbox import drain_until_idle
from mailbox.operations.demo import demo_pdf
from mailbox.services import Services
from mailbox.transmissions.send import send_transmission
from tests.batches import batch_upload, manifest_csv, pdfs_for, queue_batch, rows_for, zip_of
from tests.factories import (
    PASSWORD,
    World,
    add_member,
    deliver,
    enrol_totp,
    make_world,
    token_for,
)
from tests.transmissions import package, receiver

# Methods litestar answers by itself on every path.
GENERATED = {"OPTIONS", "HEAD"}


def app_routes() -> Iterator[str]:
    """Every "METHOD /path" the app serves, path parameters as ``{name}``."""
    app = create_app()
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for method in sorted(set(route.methods) - GENERATED):
                yield f"{method} {route.path_format}"


def test_every_route_of_the_app_has_an_entry_in_the_policy_table() -> None:
    missing = sorted(set(app_routes()) - set(ROUTES))
    assert not missing, f"routes without an entry in mailbox.identity.policy.ROUTES: {missing}"


def test_every_entry_of_the_policy_table_names_a_route_of_the_app() -> None:
    stale = sorted(set(ROUTES) - set(app_routes()))
    assert not stale, f"entries of ROUTES naming no route: {stale}"


def test_routes_open_to_anyone_are_exactly_those_the_openapi_document_says_need_no_token() -> None:
    spec = create_app().openapi_schema.to_schema()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            open_to_anyone = ROUTES[f"{method.upper()} {path}"].rule is Access.ANYONE
            assert (operation.get("security") == [{}]) is open_to_anyone, (method, path)


@dataclass(frozen=True)
class Kind:
    """A kind of principal: how it authenticates and the role it holds on the world's account
    or office (``None``: none there)."""

    name: str
    token: str | None = None
    on_account: Role | None = None
    on_office: Role | None = None
    machine: bool = False  # a machine client: API tokens only, never a web session
    scopes: frozenset[str] = frozenset()  # a machine client's scopes


def allowed(route: Route, kind: Kind, *, page: bool, target: str) -> bool:
    """What the table says: may ``kind`` call ``route``? ``target`` is what the route names:
    "account" (an account, its settings, its webhook, its client), "office" (a dispatch), or
    "delivery" (its account and its office)."""
    rule = route.rule
    signed_in = kind.token is not None and not (page and kind.machine)
    if rule is Access.ANYONE:
        return True
    if kind.machine and (route.scope is None or route.scope.value not in kind.scopes):
        return False
    if rule is Access.SIGNED_IN:
        return signed_in
    if rule is Access.PERSON:
        return signed_in and not kind.machine
    if rule is Access.SCRAPER:
        return False  # the test client is outside the metrics networks and has no metrics token
    held = {
        role
        for role, counts in (
            (kind.on_account, target in ("account", "delivery")),
            (kind.on_office, target in ("office", "delivery")),
        )
        if role is not None and counts
    }
    return signed_in and any(held & POLICY[action] for action in rule)


def refused(response: Response) -> bool:
    """The route refused the caller: 401, 403, 404, or a page sending it to log in."""
    location = response.headers.get("location", "")
    return response.status_code in (401, 403, 404) or (
        300 <= response.status_code < 400 and location.startswith("/login")
    )


@dataclass
class Targets:
    """The things the routes name, in one world. Addresses and subscriptions that a call
    deletes are replaced before the next call."""

    client: AsyncClient
    services: Services
    world: World
    owner: dict[str, str]
    delivery_id: str
    batch_id: str = ""  # a bulk dispatch's
    print_batch_id: str = ""
    address_id: str = ""
    subscription_id: str = ""
    client_id: str = ""
    kid: str = ""
    outage_id: str = ""
    notice_id: str = ""  # a delivery of a JSON notice: its seal and its page
    transmission_id: str = ""  # routed through the world's office into the world's account
    final_office: str = ""  # the code of the office whose mailbox is the world's account
    used: set[str] = field(default_factory=set)

    async def fresh(self) -> None:
        if not self.address_id or "address" in self.used:
            email = f"a{uuid.uuid4().hex[:10]}@example.com"
            address = await self._post(f"{self._account}/notification-addresses", {"email": email})
            self.address_id = address["id"]
        if not self.subscription_id or "subscription" in self.used:
            hook = {"url": "https://hooks.example.com/in", "account_id": self.world.account.id}
            self.subscription_id = (await self._post("/api/v1/webhooks", hook))["id"]
        if not self.client_id or "client" in self.used:
            made = await self._post("/api/v1/clients", client_body(self.world.account.id))
            self.client_id, self.kid = made["id"], made["keys"][0]["kid"]
        self.used.clear()

    @property
    def _account(self) -> str:
        return f"/api/v1/accounts/{self.world.account.id}"

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post(path, headers=self.owner, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def path(self, template: str) -> str:
        if template.startswith("/office/paper/"):  # a print batch, not a bulk dispatch
            template = template.replace("{batch_id}", self.print_batch_id)
        if template.endswith(("/document/seal", "/notice")):  # only a data document has them
            template = template.replace("{delivery_id}", self.notice_id)
        return (
            template.replace("{delivery_id}", self.delivery_id)
            .replace("{account_id}", self.world.account.id)
            .replace("{address_id}", self.address_id)
            .replace("{subscription_id}", self.subscription_id)
            .replace("{office_code}", self.world.office.code)
            .replace("{kind_code}", "R99")
            .replace("{client_id}", self.client_id)
            .replace("{kid}", self.kid)
            .replace("{outage_id}", self.outage_id)
            .replace("{batch_id}", self.batch_id)
            .replace("{transmission_id}", self.transmission_id)
            .replace("{position}", "2")  # the package's JSON search report (it has a seal)
            .replace("{kind}", "search-copy")
            .replace("{path}", "nothing-here")
        )


def public_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode()


def client_body(account_id: str) -> dict[str, Any]:
    return {
        "name": "Patent system",
        "role": "viewer",
        "scopes": ["inbox:read"],
        "account_id": account_id,
        "public_key": public_key_pem(),
    }


def target_of(key: str) -> str:
    if "{transmission_id}" in key and not key.endswith("/forward") and not _page(key):
        # Seen through a hop: by the world's office (the hub) and the world's account (the
        # final recipient's mailbox).
        return "delivery"
    if "/transmissions" in key:
        return "office"  # sent as, or forwarded by, the world's office
    if ("/dispatches" in key and "{" not in key) or key == "POST /api/v1/outages":
        return "office"
    if "{office_code}" in key or "/dispatch-batches" in key:
        return "office"
    if key.partition(" ")[2].startswith("/office/") and "{delivery_id}" not in key:
        return "office"  # the office's pages: the form or the batch names the office
    if "{delivery_id}" in key:
        return "delivery"
    return "account"


def body_of(key: str, targets: Targets, kind: Kind, n: int) -> dict[str, Any]:
    """A request the route accepts from someone it allows (so that a refusal is about who
    calls, never about what is sent)."""
    account = targets.world.account.id
    bodies: dict[str, dict[str, Any]] = {
        "POST /api/v1/auth/token": {
            "data": {"grant_type": "password", "username": f"x{n}@example.com", "password": "x"}
        },
        "POST /login": {"data": {"email": f"y{n}@example.com", "password": "wrong password"}},
        "POST /api/v1/dispatches": {
            "files": {"file": ("notice.pdf", demo_pdf("Notice"), "application/pdf")},
            "data": {
                "recipient_account_id": account,
                "office_id": targets.world.office.id,  # as the world's office
                "kind_code": "R71",
                "dossier_number": "EP1",
                "title": "Notice",
            },
        },
        # The workspace's dispatch form, as the world's office (like the API's dispatch).
        "GET /office/dispatches/new": {"params": {"office_id": targets.world.office.id}},
        "POST /office/dispatches": {
            "files": {"file": ("notice.pdf", demo_pdf("Notice"), "application/pdf")},
            "data": {
                "recipient_account_id": account,
                "office_id": targets.world.office.id,
                "kind_code": "R71",
                "dossier_number": "EP1",
                "title": "Notice",
            },
        },
        "PUT /api/v1/offices/{office_code}/clock": {"json": {"time_zone": "UTC"}},
        "PUT /api/v1/offices/{office_code}/forwarding/{kind}": {"json": {"mode": "automatic"}},
        # As the world's office, straight into the final recipient's mailbox.
        "POST /api/v1/transmissions": _transmission_upload(targets),
        "POST /api/v1/outages": {
            "json": {
                "office_id": targets.world.office.id,
                "from": (now() - timedelta(hours=3)).isoformat(),
                "to": (now() - timedelta(hours=2)).isoformat(),
                "affected": "Pickup",
            }
        },
        # As the world's office, like the dispatch.
        "POST /api/v1/dispatch-batches": _batch_upload(targets, n),
        "POST /office/batches": _batch_upload(targets, n),
        "PATCH /api/v1/accounts/{account_id}/notification-settings": {"json": {"mode": "digest"}},
        "POST /api/v1/accounts/{account_id}/notification-addresses": {
            "json": {"email": f"new{n}@example.com"}
        },
        "POST /api/v1/webhooks": {
            "json": {"url": "https://hooks.example.com/new", "account_id": account}
        },
        "POST /api/v1/clients": {"json": client_body(account)},
        "POST /api/v1/clients/{client_id}/keys": {"json": {"public_key": public_key_pem()}},
        "POST /accounts/{account_id}/settings/alerts": {
            "data": {"mode": "digest", "reminder_days": "3", "language": "en"}
        },
        "POST /accounts/{account_id}/settings/addresses": {"data": {"email": f"p{n}@example.com"}},
        "POST /api/v1/deliveries/{delivery_id}/paper/posted": {"json": {}},
        "POST /api/v1/deliveries/{delivery_id}/paper/returned": {"json": {"reason": "moved"}},
        "POST /api/v1/retrievals": {"json": {"code": "ABCD-EFGH-JKMN-PQRS-T"}},
        "POST /office/paper/batches": {"data": {"office_id": targets.world.office.id}},
        "POST /office/paper/returns": {
            "data": {"office_id": targets.world.office.id},
            "files": {"file": ("returns.txt", b"dlv_none\n", "text/plain")},
        },
    }
    if key == "GET /api/v1/notification-addresses/verify":
        return {"params": {"token": "not-a-link-we-sent"}}
    body = bodies.get(key, {"data": {}} if key.startswith("POST /") and _page(key) else {})
    if _page(key) and key.startswith("POST ") and kind.token:
        # A page's form carries the form token of the session posting it.
        form_token = targets.services.tokens.form_token(kind.token)
        body = {**body, "data": {**body.get("data", {}), FORM_TOKEN_FIELD: form_token}}
    return body


def _transmission_upload(targets: Targets) -> dict[str, Any]:
    manifest, files = package(targets.world.office.code, targets.final_office)
    parts = [("manifest", ("manifest.json", manifest, "application/json"))]
    parts += [("documents", (name, content, "application/pdf")) for name, content in files.items()]
    return {"files": parts, "data": {"office_id": targets.world.office.id}}


async def _transmission(services: Services, world: World) -> tuple[str, str]:
    """A transmission from another office through the world's office (the hub) to an office
    whose mailbox is the world's account, forwarded: its id and the final office's code."""
    sender, final = await receiver(services, "SND"), await receiver(services, "FIN")
    async with services.db.write() as session:
        await open_office_mailbox(
            session=session, office=world.office.id, email="hub@policy.example"
        )
        # The world's account becomes the final office's mailbox (its only one).
        mailbox = await session.get(Account, final.mailbox.id)
        mailbox.office_id = None
        session.add(mailbox)
        await session.flush()
        account = await session.get(Account, world.account.id)
        account.office_id = final.office.id
        session.add(account)
    manifest, files = package(sender.office.code, final.office.code)
    sent = await send_transmission(
        services,
        office_id=sender.office.id,
        manifest=manifest,
        files=files,
        via=world.office.code,
        actor="user:policy",
    )
    await drain_until_idle(services, worker_id="policy", lanes=1)
    return sent.view.transmission.id, final.office.code


def _batch_upload(targets: Targets, n: int) -> dict[str, Any]:
    rows = rows_for(targets.world.account.id, 1, prefix=f"POLICY-{n}")
    return {
        "files": batch_upload(manifest_csv(rows), zip_of(pdfs_for(rows))),
        "data": {"office_id": targets.world.office.id},
    }


def _page(key: str) -> bool:
    path = key.partition(" ")[2]
    return not path.startswith(
        ("/api/", "/.well-known/", "/healthz", "/health/", "/metrics", "/schema")
    )


async def call(client: AsyncClient, key: str, targets: Targets, kind: Kind, n: int) -> Response:
    method, _, template = key.partition(" ")
    headers = {}
    if kind.token and _page(key):
        headers["Cookie"] = f"{SESSION_COOKIE}={kind.token}"
    elif kind.token:
        headers["Authorization"] = f"Bearer {kind.token}"
    client.cookies.clear()
    return await client.request(
        method, targets.path(template), headers=headers, **body_of(key, targets, kind, n)
    )


async def _client_token(
    client: AsyncClient,
    services: Services,
    role: Role,
    scopes: list[str] | None = None,
    **on: str,
) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    async with services.db.write() as session:
        registered = await register_client(
            session=session,
            signer=services.evidence,
            name="A system",
            role=role,
            public_key_pem=pem.decode(),
            scopes=scopes,
            **on,
        )
    moment = now()
    assertion = jwt.encode(
        {
            "iss": registered.client.id,
            "sub": registered.client.id,
            "aud": f"{services.settings.public_base_url}/api/v1/auth/token",
            "exp": int((moment + timedelta(seconds=120)).timestamp()),
            "jti": uuid.uuid4().hex,
        },
        key,
        algorithm="ES256",
    )
    response = await client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        },
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def _all(role: Role, *, on_office: bool) -> frozenset[str]:
    return frozenset(scope.value for scope in scopes_allowed([role.value], on_office=on_office))


# Two clients each of the account and of the office, splitting what their role allows: every
# scope is held by one and missing from the other.
_SPLIT = {Scope.INBOX_READ, Scope.EVIDENCE_READ, Scope.EVENTS_READ}
_ACCOUNT_SCOPE_SETS = [
    frozenset(s.value for s in _SPLIT),
    _all(Role.OWNER, on_office=False) - {s.value for s in _SPLIT},
]
_OFFICE_SCOPE_SETS = [
    frozenset(s.value for s in _SPLIT),
    _all(Role.DISPATCHER, on_office=True) - {s.value for s in _SPLIT},
]


def test_every_scope_is_held_and_missing_among_the_clients_checked() -> None:
    for sets, role, on_office in (
        (_ACCOUNT_SCOPE_SETS, Role.OWNER, False),
        (_OFFICE_SCOPE_SETS, Role.DISPATCHER, True),
    ):
        for scope in _all(role, on_office=on_office):
            assert any(scope in held for held in sets) and any(scope not in h for h in sets)
    every = {scope.value for scope in Scope}
    assert _all(Role.OWNER, on_office=False) | _all(Role.DISPATCHER, on_office=True) == every


async def _empty_print_batch(services: Services, world: World) -> str:
    """A print batch of the world's office (of no letters: its download records nothing)."""
    async with services.db.write() as session:
        batch = PrintBatch(
            office_id=world.office.id,
            letters=0,
            pages=0,
            blob_id=services.blobs.put(demo_pdf("Batch")),
            manifest_blob_id=services.blobs.put(b"position,delivery_id,address,pages,first_page\n"),
            created_by="test",
        )
        session.add(batch)
    return batch.id


async def _notice(services: Services, world: World) -> str:
    """A JSON document delivered to the world's account: it has a detached seal."""
    dispatched = await dispatch(
        services,
        DispatchRequest(
            office_id=world.office.id,
            recipient_account_id=world.account.id,
            kind_code="R71",
            dossier_number="EP23123456.7",
            title="A JSON document",
            filename="notice.json",
            pdf=b'{"status": "entered"}',
            media_type="application/json",
        ),
        actor=f"user:{world.dispatcher.id}",
    )
    return dispatched.delivery.id


async def _kinds(client: AsyncClient, services: Services, world: World) -> list[Kind]:
    other = await make_world(services)
    async with services.db.write() as session:
        admin = await create_user(
            session=session,
            email=f"admin{uuid.uuid4().hex[:8]}@example.com",
            password=PASSWORD,
            display_name="Admin",
            is_admin=True,
        )

    async def token(user: Any) -> str:
        return (await token_for(client, user))["Authorization"].removeprefix("Bearer ")

    async with services.db.write() as session:
        printer = await create_user(
            session=session,
            email=f"printer{uuid.uuid4().hex[:8]}@example.com",
            password=PASSWORD,
            display_name="Printer",
        )
        await grant_role(
            session=session, user_id=printer.id, role=Role.PRINTER, office_id=world.office.id
        )
        await enrol_totp(session, printer)
    editor = await add_member(services, world.account, Role.EDITOR)
    viewer = await add_member(services, world.account, Role.VIEWER)
    return [
        Kind("anonymous"),
        Kind("owner of the account", await token(world.applicant), on_account=Role.OWNER),
        Kind("editor of the account", await token(editor), on_account=Role.EDITOR),
        Kind("viewer of the account", await token(viewer), on_account=Role.VIEWER),
        Kind("owner of another account", await token(world.stranger)),
        Kind("dispatcher of the office", await token(world.dispatcher), on_office=Role.DISPATCHER),
        Kind("dispatcher of another office", await token(other.dispatcher)),
        Kind("auditor of the office", await token(world.auditor), on_office=Role.AUDITOR),
        Kind("auditor of another office", await token(other.auditor)),
        Kind("printer of the office", await token(printer), on_office=Role.PRINTER),
        Kind(
            "client of the account (owner)",
            await _client_token(client, services, Role.OWNER, account_id=world.account.id),
            on_account=Role.OWNER,
            machine=True,
            scopes=_all(Role.OWNER, on_office=False),
        ),
        *[
            Kind(
                f"client of the account (owner) with {' '.join(sorted(scopes))}",
                await _client_token(
                    client, services, Role.OWNER, sorted(scopes), account_id=world.account.id
                ),
                on_account=Role.OWNER,
                machine=True,
                scopes=scopes,
            )
            for scopes in _ACCOUNT_SCOPE_SETS
        ],
        Kind(
            "client of the office (dispatcher)",
            await _client_token(client, services, Role.DISPATCHER, office_id=world.office.id),
            on_office=Role.DISPATCHER,
            machine=True,
            scopes=_all(Role.DISPATCHER, on_office=True),
        ),
        *[
            Kind(
                f"client of the office (dispatcher) with {' '.join(sorted(scopes))}",
                await _client_token(
                    client, services, Role.DISPATCHER, sorted(scopes), office_id=world.office.id
                ),
                on_office=Role.DISPATCHER,
                machine=True,
                scopes=scopes,
            )
            for scopes in _OFFICE_SCOPE_SETS
        ],
        Kind(
            "client of another office (dispatcher)",
            await _client_token(client, services, Role.DISPATCHER, office_id=other.office.id),
            machine=True,
            scopes=_all(Role.DISPATCHER, on_office=True),
        ),
        Kind("administrator", await token(admin)),
    ]


async def test_every_route_answers_every_kind_of_principal_as_the_table_says(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    kinds = await _kinds(client, services, world)
    delivery = await deliver(services, world)
    owner = {"Authorization": f"Bearer {kinds[1].token}"}
    batch_id = await queue_batch(
        services, world.office.id, rows_for(world.account.id, 1), actor="user:policy"
    )
    targets = Targets(client, services, world, owner, delivery.id, batch_id)
    targets.outage_id = (
        await record_outage(
            services,
            starts_at=now() - timedelta(hours=5),
            ends_at=now() - timedelta(hours=4),
            affected="The whole service",
            office=None,
            actor="operator",
        )
    ).id
    targets.print_batch_id = await _empty_print_batch(services, world)
    targets.notice_id = await _notice(services, world)
    targets.transmission_id, targets.final_office = await _transmission(services, world)
    mismatches: list[str] = []
    checked = 0
    # Log-out last: it revokes the session it is called with, which every later page needs.
    for n, key in enumerate(sorted(set(app_routes()), key=lambda k: (k == "POST /logout", k))):
        route = ROUTES[key]
        rule = route.rule
        answers: dict[str, int] = {}
        for kind in kinds:
            await targets.fresh()
            response = await call(client, key, targets, kind, n * 100 + len(answers))
            checked += 1
            answers[kind.name] = response.status_code
            if response.status_code >= 500:
                mismatches.append(f"{key} as {kind.name}: {response.status_code}")
                continue
            expected = allowed(route, kind, page=_page(key), target=target_of(key))
            # A route open to anyone must answer everyone alike (checked below), whatever it
            # answers about the request itself (a wrong password, an unknown link).
            if rule is not Access.ANYONE and refused(response) == expected:
                mismatches.append(
                    f"{key} as {kind.name}: {'refused' if expected else 'allowed'} "
                    f"({response.status_code}), the table says "
                    f"{'allowed' if expected else 'refused'}"
                )
            done = response.status_code < 400 and not refused(response)
            if done and (key.startswith("DELETE ") or key.endswith("/remove")):
                targets.used.add(
                    "address"
                    if "{address_id}" in key
                    else "client"
                    if "{client_id}" in key
                    else "subscription"
                )
        if rule is Access.ANYONE and len(set(answers.values())) > 1:
            mismatches.append(f"{key} is open to anyone but answers differ: {answers}")
    print(f"route policy: {len(set(app_routes()))} routes x {len(kinds)} principals = {checked}")
    assert not mismatches, "\n".join(mismatches)
