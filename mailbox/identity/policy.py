"""The one access policy: who may do what, as a table (:data:`POLICY`) and the named questions
computed from it.

Every caller asks this module: the API, the pages, the domain rooms. Nobody else reads a
principal's role dictionaries to decide anything (loading them is
:mod:`mailbox.identity.principal`'s job).

:data:`POLICY` names, for each :class:`Action`, the roles that allow it, and :data:`ROUTES`
names, for each route of the service (API and pages), what decides who may call it: anyone,
anyone signed in (the answer then holds only what the caller may see), or the actions of
:data:`POLICY` on the thing the route names. Together they are the one table of route x kind
of principal -> allowed; the test suite calls every route of the app as every kind of
principal and compares the answer with it, and fails on a route the table does not name.

A role on an account allows the action on that account and its deliveries; a role on an
office, on that office and the deliveries it dispatched. A machine client is judged by its one
role, as a user holding that role would be, and is limited further by its scopes
(:class:`Scope`): each API route names the scope a client needs for it, and a client is given
only scopes its role allows (:func:`scopes_allowed`). Being an administrator
(``User.is_admin``) allows nothing here: administration (offices, accounts, users, grants,
keys) is done with the command line.

Refusals are the callers' to raise, in one shape: who may not even see a thing is told it does
not exist (:class:`~mailbox.errors.NotFound`, so other people's deliveries, accounts and offices
never leak); who sees it but may not do this is refused
(:class:`~mailbox.errors.PermissionDenied`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

from mailbox.errors import PermissionDenied
from mailbox.models import Delivery, Role
from mailbox.models.parties import ACCOUNT_ROLES, OFFICE_ROLES

if TYPE_CHECKING:
    from mailbox.identity.principal import Principal

__all__ = [
    "OBSERVERS",
    "POLICY",
    "ROUTES",
    "SCOPE_ACTIONS",
    "SCOPE_DESCRIPTIONS",
    "Access",
    "Action",
    "Observation",
    "Observer",
    "Route",
    "RouteRule",
    "Scope",
    "account_role",
    "accounts_where",
    "allows",
    "can_choose_recipients",
    "can_dispatch_for",
    "can_manage",
    "can_manage_office",
    "can_manage_webhooks",
    "can_observe",
    "can_pick_up",
    "can_print",
    "can_read_account",
    "can_read_delivery",
    "can_read_evidence",
    "can_read_office",
    "dispatch_office",
    "offices_where",
    "prints_any_office",
    "reads_any_account",
    "reads_any_office",
    "route_scope_refusal",
    "scopes_allowed",
    "second_factor_required",
]


class Action(StrEnum):
    """What a principal may be allowed to do; each one is a row of :data:`POLICY`."""

    READ_DELIVERY = "read_delivery"  # a delivery's metadata and status
    READ_EVIDENCE = "read_evidence"  # its evidence timeline and proof of delivery
    PICK_UP = "pick_up"  # download the sealed document: the first download is the legal pickup
    READ_ACCOUNT = "read_account"  # an account and its notification settings
    MANAGE_ACCOUNT = "manage_account"  # change its settings, addresses, consent, webhooks
    READ_OFFICE = "read_office"  # an office and its view of the deliveries it dispatched
    MANAGE_OFFICE = "manage_office"  # change the office's webhooks and paper-only kinds
    DISPATCH = "dispatch"  # dispatch documents as the office
    # The office's paper room: build and download print batches (content leaves the service,
    # recorded on each delivery), mark letters posted or returned undeliverable.
    PRINT = "print"


_ACCOUNT_GRANTEES = frozenset({Role.OWNER, Role.EDITOR, Role.VIEWER})
_OFFICE_READERS = frozenset({Role.DISPATCHER, Role.AUDITOR})

POLICY: Mapping[Action, frozenset[Role]] = MappingProxyType(
    {
        Action.READ_DELIVERY: _ACCOUNT_GRANTEES | _OFFICE_READERS,
        Action.READ_EVIDENCE: _ACCOUNT_GRANTEES | _OFFICE_READERS,
        # Offices follow their dispatches but never pick up: a pickup is the addressee's.
        Action.PICK_UP: _ACCOUNT_GRANTEES,
        Action.READ_ACCOUNT: _ACCOUNT_GRANTEES,
        Action.MANAGE_ACCOUNT: frozenset({Role.OWNER}),
        Action.READ_OFFICE: _OFFICE_READERS,
        Action.MANAGE_OFFICE: frozenset({Role.DISPATCHER}),
        Action.DISPATCH: frozenset({Role.DISPATCHER}),
        # The office itself, or its printing contractor (who sees nothing else of it).
        Action.PRINT: frozenset({Role.DISPATCHER, Role.PRINTER}),
    }
)


class Observation(StrEnum):
    """What the operations endpoints show of the running service; each is a row of
    :data:`OBSERVERS`. They concern no account or office, so no role allows them."""

    LIVENESS = "liveness"  # GET /health/live (and /healthz): the process answers
    READINESS = "readiness"  # GET /health/ready: each check, no personal data
    METRICS = "metrics"  # GET /metrics: counts and ages of the service's work


class Observer(StrEnum):
    """Who may read an :class:`Observation`."""

    # Anyone, without a token: load balancers and orchestrators probe without credentials.
    ANYONE = "anyone"
    # A metrics scraper: a client in MAILBOX_METRICS_NETWORKS (loopback by default) or one
    # that shows MAILBOX_METRICS_TOKEN. Metrics tell volumes and failures of the service,
    # which strangers have no business knowing.
    SCRAPER = "scraper"


OBSERVERS: Mapping[Observation, Observer] = MappingProxyType(
    {
        Observation.LIVENESS: Observer.ANYONE,
        Observation.READINESS: Observer.ANYONE,
        Observation.METRICS: Observer.SCRAPER,
    }
)


def can_observe(observation: Observation, *, scraper: bool) -> bool:
    """Whether a caller may read ``observation``: anyone for the health checks, a metrics
    scraper (``scraper``: from a metrics network or with the metrics token) for the metrics."""
    return OBSERVERS[observation] is Observer.ANYONE or scraper


class Access(StrEnum):
    """Who may call a route that no action on a named thing decides."""

    ANYONE = "anyone"  # no token or session: health, keys, the token endpoint, log-in, links
    SIGNED_IN = "signed_in"  # any principal; the answer holds only what it may see
    PERSON = "person"  # any signed-in person, never a machine client: their own credentials
    # A metrics scraper (see OBSERVERS): a client in MAILBOX_METRICS_NETWORKS or one showing
    # MAILBOX_METRICS_TOKEN, whoever else it is.
    SCRAPER = "scraper"


# A route's rule: an Access, or the actions of POLICY (any one of them) on the account, office
# or delivery the route names (a webhook subscription: on the account or office it serves).
RouteRule = Access | tuple[Action, ...]


class Scope(StrEnum):
    """What a machine client was registered for (OAuth 2.0 ``scope``, RFC 6749 section 3.3).

    A client holds a role on one account or office (what :data:`POLICY` lets it do there) and
    a set of scopes (which of those routes it may call at all): each route of :data:`ROUTES`
    that a client may call names the one scope it needs. People are not limited by scopes:
    their tokens carry none and their roles alone decide.
    """

    INBOX_READ = "inbox:read"  # list and read deliveries: inbox, one delivery, a dispatch, accounts
    DOCUMENTS_READ = "documents:read"  # download sealed documents: this includes the legal pickup
    DISPATCH_WRITE = "dispatch:write"  # dispatch documents as the office
    EVIDENCE_READ = "evidence:read"  # proofs of delivery (with the document: documents:read too)
    WEBHOOKS_MANAGE = "webhooks:manage"  # the webhook subscriptions of the account or office
    EVENTS_READ = "events:read"  # the event feed (GET /api/v1/events)


# What each scope lets a client do, as the OpenAPI document tells client developers.
SCOPE_DESCRIPTIONS: Mapping[Scope, str] = MappingProxyType(
    {
        Scope.INBOX_READ: "List and read deliveries (inbox, one delivery, a dispatch's status, "
        "the accounts list).",
        Scope.DOCUMENTS_READ: "Download sealed documents: the first download is the legal pickup.",
        Scope.DISPATCH_WRITE: "Dispatch documents as the office.",
        Scope.EVIDENCE_READ: "Download proofs of delivery (with the document only with "
        "documents:read too).",
        Scope.WEBHOOKS_MANAGE: "Manage the webhook subscriptions of the account or office.",
        Scope.EVENTS_READ: "Read the event feed.",
    }
)

# The actions of POLICY a scope is for: a client may be given a scope only when its role (and
# the role of the person registering it) allows at least one of them where it acts.
SCOPE_ACTIONS: Mapping[Scope, tuple[Action, ...]] = MappingProxyType(
    {
        Scope.INBOX_READ: (Action.READ_DELIVERY,),
        Scope.DOCUMENTS_READ: (Action.PICK_UP,),
        Scope.DISPATCH_WRITE: (Action.DISPATCH,),
        Scope.EVIDENCE_READ: (Action.READ_EVIDENCE,),
        Scope.WEBHOOKS_MANAGE: (Action.MANAGE_ACCOUNT, Action.MANAGE_OFFICE),
        Scope.EVENTS_READ: (Action.READ_DELIVERY,),
    }
)


@dataclass(frozen=True)
class Route:
    """One entry of :data:`ROUTES`: who may call the route (``rule``), and the scope a machine
    client needs for it (``scope``). A route of the API without a scope is for people only
    (their settings, consent, addresses, credentials, machine clients): a client is refused it
    whatever its role; pages take no bearer tokens, so scopes never concern them."""

    rule: RouteRule
    scope: Scope | None = None


_ANYONE, _SIGNED_IN, _PERSON = Route(Access.ANYONE), Route(Access.SIGNED_IN), Route(Access.PERSON)
_DELIVERY = "/api/v1/deliveries/{delivery_id}"
_TRANSMISSION = "/api/v1/transmissions/{transmission_id}"
_SETTINGS = "/api/v1/accounts/{account_id}"
_WEBHOOK = "/api/v1/webhooks/{subscription_id}"
_CLIENT = "/api/v1/clients/{client_id}"
_MANAGE_WEBHOOK = Route((Action.MANAGE_ACCOUNT, Action.MANAGE_OFFICE), Scope.WEBHOOKS_MANAGE)
# Machine clients of an account (its owners) or an office (its dispatchers); people only.
_MANAGE_CLIENT = Route((Action.MANAGE_ACCOUNT, Action.MANAGE_OFFICE))
_MANAGE_ACCOUNT = Route((Action.MANAGE_ACCOUNT,))
_PAGE = "/accounts/{account_id}/settings"
_PAPER = "/office/paper"
# The printing contractor (or the office) reports letters' fates; people only.
_PRINT = Route((Action.PRINT,))


def _page(rule: RouteRule) -> Route:
    return Route(rule)


ROUTES: Mapping[str, Route] = MappingProxyType(
    {
        # Operations, keys, authentication, the OpenAPI document.
        "GET /healthz": _ANYONE,
        "GET /health/live": _ANYONE,
        "GET /health/ready": _ANYONE,
        "GET /metrics": Route(Access.SCRAPER),
        "GET /.well-known/jwks.json": _ANYONE,
        "POST /api/v1/auth/token": _ANYONE,
        # A person's own password (machine clients have none).
        "POST /api/v1/account/password": _PERSON,
        "GET /schema": _ANYONE,
        "GET /schema/openapi.json": _ANYONE,
        "GET /schema/openapi.yaml": _ANYONE,
        "GET /schema/openapi.yml": _ANYONE,
        "GET /schema/{path}": _ANYONE,
        # Machine clients, registered and managed by people.
        "POST /api/v1/clients": _MANAGE_CLIENT,
        "GET /api/v1/clients": _PERSON,
        f"POST {_CLIENT}/keys": _MANAGE_CLIENT,
        f"DELETE {_CLIENT}/keys/{{kid}}": _MANAGE_CLIENT,
        f"GET {_CLIENT}": _MANAGE_CLIENT,
        f"DELETE {_CLIENT}": _MANAGE_CLIENT,
        # Offices.
        "POST /api/v1/dispatches": Route((Action.DISPATCH,), Scope.DISPATCH_WRITE),
        "GET /api/v1/dispatches/{delivery_id}": Route((Action.READ_OFFICE,), Scope.INBOX_READ),
        # The answer holds the dispatches of the offices the caller reads (none: empty).
        "GET /api/v1/dispatches": Route(Access.SIGNED_IN, Scope.INBOX_READ),
        # The office directory: where another office serves an office documents.
        "GET /api/v1/offices/{office_code}": Route(Access.SIGNED_IN, Scope.DISPATCH_WRITE),
        # The document kinds an office serves on paper only: its dispatchers (people).
        "PUT /api/v1/offices/{office_code}/paper-only-kinds/{kind_code}": Route(
            (Action.MANAGE_OFFICE,)
        ),
        # The legal clock: the shipped rules; an office's choice (its dispatchers change it,
        # its auditors read it; people only).
        "GET /api/v1/clock-rules": _SIGNED_IN,
        "GET /api/v1/offices/{office_code}/clock": Route((Action.READ_OFFICE,)),
        "PUT /api/v1/offices/{office_code}/clock": Route((Action.MANAGE_OFFICE,)),
        # A hub's coverage: its dispatchers and auditors read the report; its dispatchers
        # upload the list of expected items and send reminders (people only).
        "GET /api/v1/offices/{office_code}/coverage": Route((Action.READ_OFFICE,)),
        "PUT /api/v1/offices/{office_code}/expected-items": Route((Action.MANAGE_OFFICE,)),
        "POST /api/v1/offices/{office_code}/coverage/reminders": Route((Action.MANAGE_OFFICE,)),
        # Bulk dispatch: the list holds only the batches of the caller's offices.
        "POST /api/v1/dispatch-batches": Route((Action.DISPATCH,), Scope.DISPATCH_WRITE),
        "GET /api/v1/dispatch-batches": Route(Access.SIGNED_IN, Scope.DISPATCH_WRITE),
        "GET /api/v1/dispatch-batches/{batch_id}": Route(
            (Action.READ_OFFICE,), Scope.DISPATCH_WRITE
        ),
        "GET /api/v1/dispatch-batches/{batch_id}/items": Route(
            (Action.READ_OFFICE,), Scope.DISPATCH_WRITE
        ),
        "DELETE /api/v1/offices/{office_code}/paper-only-kinds/{kind_code}": Route(
            (Action.MANAGE_OFFICE,)
        ),
        # Office-to-office transmissions. Sending is a dispatch; a transmission is seen by the
        # dispatchers and auditors of its offices and the people of the mailboxes it passed
        # through (READ_DELIVERY on a hop's delivery); its documents only by those people
        # (PICK_UP); a held one is forwarded by the hub's dispatchers.
        "POST /api/v1/transmissions": Route((Action.DISPATCH,), Scope.DISPATCH_WRITE),
        "GET /api/v1/transmissions": Route(Access.SIGNED_IN, Scope.INBOX_READ),
        f"GET {_TRANSMISSION}": Route((Action.READ_DELIVERY,), Scope.INBOX_READ),
        f"GET {_TRANSMISSION}/documents/{{position}}": Route(
            (Action.PICK_UP,), Scope.DOCUMENTS_READ
        ),
        f"GET {_TRANSMISSION}/documents/{{position}}/seal": Route(
            (Action.PICK_UP,), Scope.DOCUMENTS_READ
        ),
        f"GET {_TRANSMISSION}/proof": Route((Action.READ_EVIDENCE,), Scope.EVIDENCE_READ),
        f"POST {_TRANSMISSION}/forward": Route((Action.DISPATCH,), Scope.DISPATCH_WRITE),
        # A hub's forwarding rules: its dispatchers change them, they and its auditors read.
        "GET /api/v1/offices/{office_code}/forwarding": Route((Action.READ_OFFICE,)),
        "PUT /api/v1/offices/{office_code}/forwarding/{kind}": Route((Action.MANAGE_OFFICE,)),
        # Applicants, and office staff following what they dispatched.
        "GET /api/v1/inbox": Route(Access.SIGNED_IN, Scope.INBOX_READ),
        f"GET {_DELIVERY}": Route((Action.READ_DELIVERY,), Scope.INBOX_READ),
        f"GET {_DELIVERY}/document": Route((Action.PICK_UP,), Scope.DOCUMENTS_READ),
        # A data document's detached seal: no content, so not recorded, but like the document
        # only for those who may pick it up (the one who checks the copy picked up).
        f"GET {_DELIVERY}/document/seal": Route((Action.PICK_UP,), Scope.DOCUMENTS_READ),
        f"GET {_DELIVERY}/proof": Route((Action.READ_EVIDENCE,), Scope.EVIDENCE_READ),
        # The paper room: the printing contractor (or the office) reports letters' fates.
        f"POST {_DELIVERY}/paper/posted": _PRINT,
        f"POST {_DELIVERY}/paper/returned": _PRINT,
        # Its electronic copy: for the account its retrieval code linked it to.
        f"GET {_DELIVERY}/paper/copy": Route((Action.PICK_UP,), Scope.DOCUMENTS_READ),
        # A person redeems the retrieval code of a paper letter for an account they own.
        "POST /api/v1/retrievals": _PERSON,
        # The event feed: everyone signed in reads it; it holds only the events of deliveries
        # whose evidence the caller may read (Action.READ_EVIDENCE).
        "GET /api/v1/events": Route(Access.SIGNED_IN, Scope.EVENTS_READ),
        # Accounts and their notification settings (a person's decisions: no client scope).
        "GET /api/v1/accounts": Route(Access.SIGNED_IN, Scope.INBOX_READ),
        f"GET {_SETTINGS}/notification-settings": Route((Action.READ_ACCOUNT,)),
        f"PATCH {_SETTINGS}/notification-settings": _MANAGE_ACCOUNT,
        f"POST {_SETTINGS}/consent": _MANAGE_ACCOUNT,
        f"DELETE {_SETTINGS}/consent": _MANAGE_ACCOUNT,
        f"POST {_SETTINGS}/notification-addresses": _MANAGE_ACCOUNT,
        f"POST {_SETTINGS}/notification-addresses/{{address_id}}/verification": _MANAGE_ACCOUNT,
        f"DELETE {_SETTINGS}/notification-addresses/{{address_id}}": _MANAGE_ACCOUNT,
        # The emailed link: the token in it is the proof.
        "GET /api/v1/notification-addresses/verify": _ANYONE,
        # Webhook subscriptions of an account (its owners) or an office (its dispatchers).
        "POST /api/v1/webhooks": _MANAGE_WEBHOOK,
        "GET /api/v1/webhooks": Route(Access.SIGNED_IN, Scope.WEBHOOKS_MANAGE),
        f"GET {_WEBHOOK}": _MANAGE_WEBHOOK,
        f"DELETE {_WEBHOOK}": _MANAGE_WEBHOOK,
        f"POST {_WEBHOOK}/rotate-secret": _MANAGE_WEBHOOK,
        f"GET {_WEBHOOK}/attempts": _MANAGE_WEBHOOK,
        # Certified outages: an office's dispatchers record its own; the list is published.
        "POST /api/v1/outages": Route((Action.MANAGE_OFFICE,)),
        "GET /api/v1/outages": _ANYONE,
        "GET /api/v1/outages/{outage_id}/certificate": _ANYONE,
        "GET /outages": _ANYONE,
        # Pages (a web session; machine clients have none).
        "GET /": _ANYONE,
        "GET /login": _ANYONE,
        "POST /login": _ANYONE,
        "POST /logout": _ANYONE,
        # The second step of a log-in: the half-finished log-in's signed cookie is the proof.
        "GET /login/second-factor": _ANYONE,
        "POST /login/second-factor": _ANYONE,
        "POST /login/second-factor/enrol": _ANYONE,
        "GET /two-factor/qr.svg": _ANYONE,  # the caller's own pending set-up, or 404
        # A person's own password and second factor.
        "GET /settings/password": _SIGNED_IN,
        "POST /settings/password": _SIGNED_IN,
        "GET /settings/two-factor": _SIGNED_IN,
        "POST /settings/two-factor/start": _SIGNED_IN,
        "POST /settings/two-factor/confirm": _SIGNED_IN,
        "POST /settings/two-factor/disable": _SIGNED_IN,
        "POST /settings/two-factor/recovery-codes": _SIGNED_IN,
        "GET /inbox": _SIGNED_IN,
        # The office workspace: the list holds the dispatches of the offices the caller reads
        # (people of no office are sent to their inbox); the form and its post dispatch as the
        # office named (or the caller's only one).
        "GET /office/dispatches": _SIGNED_IN,
        "GET /office/dispatches/new": _page((Action.DISPATCH,)),
        "POST /office/dispatches": _page((Action.DISPATCH,)),
        "GET /office/dispatches/{delivery_id}": _page((Action.READ_OFFICE,)),
        "GET /office/dispatches/{delivery_id}/evidence": _page((Action.READ_OFFICE,)),
        "GET /deliveries": _SIGNED_IN,
        "GET /deliveries/{delivery_id}": _page((Action.READ_DELIVERY,)),
        "GET /deliveries/{delivery_id}/document": _page((Action.PICK_UP,)),
        "GET /deliveries/{delivery_id}/document/seal": _page((Action.PICK_UP,)),
        # A data notice's fields as a page: showing them hands the content over (recorded).
        "GET /deliveries/{delivery_id}/notice": _page((Action.PICK_UP,)),
        "GET /deliveries/{delivery_id}/proof": _page((Action.READ_EVIDENCE,)),
        "GET /settings": _SIGNED_IN,
        f"GET {_PAGE}": _page((Action.READ_ACCOUNT,)),
        f"POST {_PAGE}/alerts": _MANAGE_ACCOUNT,
        f"POST {_PAGE}/addresses": _MANAGE_ACCOUNT,
        f"POST {_PAGE}/addresses/{{address_id}}/resend": _MANAGE_ACCOUNT,
        f"POST {_PAGE}/addresses/{{address_id}}/remove": _MANAGE_ACCOUNT,
        f"POST {_PAGE}/consent": _MANAGE_ACCOUNT,
        f"POST {_PAGE}/consent/withdraw": _MANAGE_ACCOUNT,
        # The paper room's page: it shows the offices the person prints for (or says none).
        f"GET {_PAPER}": _SIGNED_IN,
        f"POST {_PAPER}/batches": _PRINT,  # the form names the office
        f"GET {_PAPER}/batches/{{batch_id}}/pdf": _PRINT,
        f"GET {_PAPER}/batches/{{batch_id}}/manifest": _PRINT,
        f"POST {_PAPER}/deliveries/{{delivery_id}}/posted": _PRINT,
        f"POST {_PAPER}/deliveries/{{delivery_id}}/returned": _PRINT,
        f"POST {_PAPER}/returns": _PRINT,  # the form names the office
        # A paper letter's retrieval code, redeemed by a signed-in person.
        "GET /retrieve": _SIGNED_IN,
        "GET /deliveries/{delivery_id}/paper-copy": _page((Action.PICK_UP,)),
        "POST /retrieve": _SIGNED_IN,
        # The office's bulk dispatches: its dispatchers upload, they and its auditors follow.
        "GET /office/batches": _SIGNED_IN,
        "POST /office/batches": _page((Action.DISPATCH,)),
        "GET /office/batches/{batch_id}": _page((Action.READ_OFFICE,)),
        # The office's transmissions: for the dispatchers and auditors of one of their offices;
        # the hub's dispatchers forward what it holds.
        "GET /office/transmissions": _SIGNED_IN,
        "GET /office/transmissions/{transmission_id}": _page((Action.READ_OFFICE,)),
        "GET /office/transmissions/{transmission_id}/proof": _page((Action.READ_OFFICE,)),
        "POST /office/transmissions/{transmission_id}/forward": _page((Action.DISPATCH,)),
        # A hub's coverage page: the report of the caller's office (people of no office are
        # sent to their inbox); its forms name the hub, whose dispatchers upload and remind.
        "GET /office/coverage": _SIGNED_IN,
        "POST /office/coverage/{office_code}/expected-items": _page((Action.MANAGE_OFFICE,)),
        "POST /office/coverage/{office_code}/reminders": _page((Action.MANAGE_OFFICE,)),
    }
)

# Strongest first: the role reported when a principal holds several on one account.
_ROLE_ORDER = (Role.OWNER, Role.EDITOR, Role.VIEWER)


def _allowed(held: frozenset[str], action: Action, scope: frozenset[Role]) -> bool:
    return not held.isdisjoint(POLICY[action] & scope)


def allows(
    principal: Principal,
    action: Action,
    *,
    account_id: str | None = None,
    office_id: str | None = None,
) -> bool:
    """True when :data:`POLICY` lets the principal do ``action`` on the account or the office:
    it holds an allowing account role on ``account_id`` or office role on ``office_id``."""
    on_account = account_id is not None and _allowed(
        principal.account_roles.get(account_id, frozenset()), action, ACCOUNT_ROLES
    )
    on_office = office_id is not None and _allowed(
        principal.office_roles.get(office_id, frozenset()), action, OFFICE_ROLES
    )
    return on_account or on_office


def accounts_where(principal: Principal, action: Action) -> list[str]:
    """The ids of the accounts on which the principal may do ``action``, sorted."""
    return sorted(
        account_id
        for account_id, held in principal.account_roles.items()
        if _allowed(held, action, ACCOUNT_ROLES)
    )


def offices_where(principal: Principal, action: Action) -> list[str]:
    """The ids of the offices on which the principal may do ``action``, sorted."""
    return sorted(
        office_id
        for office_id, held in principal.office_roles.items()
        if _allowed(held, action, OFFICE_ROLES)
    )


def account_role(principal: Principal, account_id: str) -> Role | None:
    """The principal's strongest role on the account (what the pages and lists show), or
    ``None`` without one."""
    held = principal.account_roles.get(account_id, frozenset())
    return next((role for role in _ROLE_ORDER if role in held), None)


def _on_delivery(principal: Principal, action: Action, delivery: Delivery) -> bool:
    """Allowed by a role on the delivery's account or on the office that dispatched it."""
    return allows(principal, action, account_id=delivery.account_id, office_id=delivery.office_id)


def can_read_delivery(principal: Principal, delivery: Delivery) -> bool:
    """Account grantees read their account's deliveries; dispatchers and auditors their
    office's. Anyone else is told the delivery does not exist."""
    return _on_delivery(principal, Action.READ_DELIVERY, delivery)


def can_read_evidence(principal: Principal, delivery: Delivery) -> bool:
    """Whether the principal sees the delivery's evidence timeline and its proof of delivery."""
    return _on_delivery(principal, Action.READ_EVIDENCE, delivery)


def can_pick_up(principal: Principal, delivery: Delivery) -> bool:
    """Whether the principal may download the sealed document, which picks the delivery up:
    grantees of its account only, never the office; a machine client only with the
    ``documents:read`` scope (a proof of delivery then holds the document, else not)."""
    return allows(principal, Action.PICK_UP, account_id=delivery.account_id) and has_scope(
        principal, Scope.DOCUMENTS_READ
    )


def can_print(principal: Principal, office_id: str) -> bool:
    """Whether the principal works the office's paper room: its dispatchers and its printing
    contractor (print batches, posted and returned letters)."""
    return allows(principal, Action.PRINT, office_id=office_id)


def can_read_account(principal: Principal, account_id: str) -> bool:
    """Whether the principal sees the account (any grant on it)."""
    return allows(principal, Action.READ_ACCOUNT, account_id=account_id)


def can_manage(principal: Principal, account_id: str) -> bool:
    """Whether the principal may change the account's settings and webhooks: its owners."""
    return allows(principal, Action.MANAGE_ACCOUNT, account_id=account_id)


def can_read_office(principal: Principal, office_id: str) -> bool:
    """Whether the principal sees the office and its view of what it dispatched."""
    return allows(principal, Action.READ_OFFICE, office_id=office_id)


def can_manage_office(principal: Principal, office_id: str) -> bool:
    """Whether the principal may change the office's webhooks: its dispatchers."""
    return allows(principal, Action.MANAGE_OFFICE, office_id=office_id)


def can_manage_webhooks(
    principal: Principal, *, account_id: str | None = None, office_id: str | None = None
) -> bool:
    """Whether the principal manages the webhook subscriptions of the account (which names
    one) or else of the office: the account's managers, the office's managers."""
    if account_id is not None:
        return can_manage(principal, account_id)
    return office_id is not None and can_manage_office(principal, office_id)


def can_dispatch_for(principal: Principal, office_id: str) -> bool:
    """Whether the principal may dispatch documents as the office."""
    return allows(principal, Action.DISPATCH, office_id=office_id)


def can_choose_recipients(principal: Principal) -> bool:
    """Whether the principal may look accounts up to serve documents on (by name, email or
    id): whoever dispatches for an office, since any account can be served."""
    return bool(offices_where(principal, Action.DISPATCH))


def dispatch_office(principal: Principal, office_id: str | None) -> str:
    """The office the principal dispatches for: ``office_id`` if it may, or without one its
    only office. :class:`PermissionDenied` when it dispatches for none, for several and names
    none, or names one it may not dispatch for."""
    offices = offices_where(principal, Action.DISPATCH)
    if not offices:
        raise PermissionDenied("Only an office's dispatchers may dispatch documents")
    if office_id is None:
        if len(offices) > 1:
            raise PermissionDenied("You dispatch for several offices; name one with office_id")
        return offices[0]
    if not can_dispatch_for(principal, office_id):
        raise PermissionDenied(f"You may not dispatch as office {office_id}")
    return office_id


def reads_any_account(principal: Principal) -> bool:
    """Whether the principal sees at least one account (the pages then offer its settings)."""
    return bool(accounts_where(principal, Action.READ_ACCOUNT))


def reads_any_office(principal: Principal) -> bool:
    """Whether the principal sees at least one office (the pages then offer to look up one of
    its deliveries)."""
    return bool(offices_where(principal, Action.READ_OFFICE))


def prints_any_office(principal: Principal) -> bool:
    """Whether the principal works some office's paper room (the pages then link to it)."""
    return bool(offices_where(principal, Action.PRINT))


# Office staff send documents with legal effect and read every delivery of their office (the
# printing contractor, every letter): a stolen password alone must not be enough for them.
_SECOND_FACTOR_ROLES = frozenset({Role.DISPATCHER, Role.AUDITOR, Role.PRINTER})


def second_factor_required(principal: Principal) -> bool:
    """Whether the person must log in with a second factor (and enrol one before anything
    else): dispatchers, auditors and printers. Applicants may choose to; machine clients never
    log in with a password, so this never applies to them."""
    return principal.kind == "user" and any(
        not held.isdisjoint(_SECOND_FACTOR_ROLES) for held in principal.office_roles.values()
    )


def has_scope(principal: Principal, scope: Scope) -> bool:
    """Whether the principal may use ``scope``: always for a person, who has no scopes; for a
    machine client, when it was registered with it (and its token carries it)."""
    return principal.scopes is None or scope.value in principal.scopes


def scopes_allowed(roles: Iterable[str], *, on_office: bool) -> frozenset[Scope]:
    """The scopes that ``roles`` held on an account (or, ``on_office``, an office) allow: those
    with an action of :data:`SCOPE_ACTIONS` that :data:`POLICY` grants to one of the roles."""
    kinds = OFFICE_ROLES if on_office else ACCOUNT_ROLES
    held = frozenset(roles)
    return frozenset(
        scope
        for scope, actions in SCOPE_ACTIONS.items()
        if any(_allowed(held, action, kinds) for action in actions)
    )


def route_scope_refusal(principal: Principal, route_key: str) -> str | None:
    """Why the principal may not call the route ``route_key`` ("METHOD /path/{name}") for
    lack of a scope, or None. People are never refused here; a machine client is refused a
    route that names no scope (people only) or one whose scope it lacks."""
    if principal.scopes is None:
        return None
    method, _, path = route_key.partition(" ")
    # HEAD is answered by the GET handler: the same rule (and scope) applies.
    route = ROUTES.get(f"GET {path}" if method == "HEAD" else route_key)
    if route is None:  # fail closed: a route the table does not name is nobody's to call
        return "This endpoint is not in the route policy; machine clients may not call it"
    if route.rule is Access.ANYONE:
        return None
    if route.scope is None:
        return (
            "Only a person may call this endpoint. Machine clients have no password, "
            "notification settings or clients of their own, so no scope allows it"
        )
    if route.scope.value not in principal.scopes:
        return f"This endpoint needs the scope {route.scope.value}, which this client lacks"
    return None
