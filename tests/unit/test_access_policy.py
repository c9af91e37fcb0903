"""The access policy: the table says which roles allow each action, and every named question
answers what the table says, for every kind of principal (account grantees, office staff of this
office and of another, machine clients of an account and of an office, an administrator, and
someone with no grant at all)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from mailbox.errors import PermissionDenied
from mailbox.identity.policy import (
    OBSERVERS,
    POLICY,
    Action,
    Observation,
    account_role,
    accounts_where,
    can_dispatch_for,
    can_manage,
    can_manage_office,
    can_manage_webhooks,
    can_observe,
    can_pick_up,
    can_print,
    can_read_account,
    can_read_delivery,
    can_read_evidence,
    can_read_office,
    dispatch_office,
    offices_where,
    prints_any_office,
    reads_any_account,
    reads_any_office,
    second_factor_required,
)
from mailbox.identity.principal import Principal
from mailbox.models import Delivery, Role

OWNER, EDITOR, VIEWER = Role.OWNER, Role.EDITOR, Role.VIEWER
DISPATCHER, AUDITOR, PRINTER = Role.DISPATCHER, Role.AUDITOR, Role.PRINTER

# The policy as the product promises it: change this table and this test together.
DOCUMENTED = {
    Action.READ_DELIVERY: {OWNER, EDITOR, VIEWER, DISPATCHER, AUDITOR},
    Action.READ_EVIDENCE: {OWNER, EDITOR, VIEWER, DISPATCHER, AUDITOR},
    Action.PICK_UP: {OWNER, EDITOR, VIEWER},
    Action.READ_ACCOUNT: {OWNER, EDITOR, VIEWER},
    Action.MANAGE_ACCOUNT: {OWNER},
    Action.READ_OFFICE: {DISPATCHER, AUDITOR},
    Action.MANAGE_OFFICE: {DISPATCHER},
    Action.DISPATCH: {DISPATCHER},
    Action.PRINT: {DISPATCHER, PRINTER},
}

ACCOUNT, OTHER_ACCOUNT = "acc_mine", "acc_other"
OFFICE, OTHER_OFFICE = "off_mine", "off_other"
DELIVERY = Delivery(
    id="dlv_test", document_id="doc_test", account_id=ACCOUNT, office_id=OFFICE, dossier_number="1"
)


@dataclass(frozen=True)
class Kind:
    """A kind of principal and the role it holds on ACCOUNT or OFFICE (None: neither)."""

    principal: Principal
    holds: Role | None


def _user(
    accounts: dict[str, Role] | None = None,
    offices: dict[str, Role] | None = None,
    *,
    is_admin: bool = False,
) -> Principal:
    # Shaped as load_principal shapes it: role names as strings, by account and by office.
    return Principal(
        user_id="usr_test",
        email="someone@example.com",
        display_name="Someone",
        is_admin=is_admin,
        account_roles={a: frozenset({r.value}) for a, r in (accounts or {}).items()},
        office_roles={o: frozenset({r.value}) for o, r in (offices or {}).items()},
    )


def _client(
    *, account_id: str | None = None, office_id: str | None = None, role: Role
) -> Principal:
    # Shaped as load_client_principal shapes it: one role on one account or one office.
    roles = frozenset({role.value})
    return Principal(
        user_id="cli_test",
        email="",
        display_name="A machine client",
        account_roles={account_id: roles} if account_id else {},
        office_roles={office_id: roles} if office_id else {},
        kind="client",
    )


KINDS = {
    "owner of the account": Kind(_user({ACCOUNT: OWNER}), OWNER),
    "editor of the account": Kind(_user({ACCOUNT: EDITOR}), EDITOR),
    "viewer of the account": Kind(_user({ACCOUNT: VIEWER}), VIEWER),
    "owner of another account": Kind(_user({OTHER_ACCOUNT: OWNER}), None),
    "dispatcher of the office": Kind(_user(offices={OFFICE: DISPATCHER}), DISPATCHER),
    "dispatcher of another office": Kind(_user(offices={OTHER_OFFICE: DISPATCHER}), None),
    "auditor of the office": Kind(_user(offices={OFFICE: AUDITOR}), AUDITOR),
    "auditor of another office": Kind(_user(offices={OTHER_OFFICE: AUDITOR}), None),
    "printer of the office": Kind(_user(offices={OFFICE: PRINTER}), PRINTER),
    "printer of another office": Kind(_user(offices={OTHER_OFFICE: PRINTER}), None),
    **{
        f"client of the account as {role}": Kind(_client(account_id=ACCOUNT, role=role), role)
        for role in (OWNER, EDITOR, VIEWER)
    },
    **{
        f"client of the office as {role}": Kind(_client(office_id=OFFICE, role=role), role)
        for role in (DISPATCHER, AUDITOR)
    },
    "client of another office": Kind(_client(office_id=OTHER_OFFICE, role=DISPATCHER), None),
    "admin user": Kind(_user(is_admin=True), None),
    "user with no grants": Kind(_user(), None),
}

Question = Callable[[Principal], bool]

# Every named question, by the action of the table it asks about.
QUESTIONS: dict[Action, dict[str, Question]] = {
    Action.READ_DELIVERY: {"can_read_delivery": lambda p: can_read_delivery(p, DELIVERY)},
    Action.READ_EVIDENCE: {"can_read_evidence": lambda p: can_read_evidence(p, DELIVERY)},
    Action.PICK_UP: {"can_pick_up": lambda p: can_pick_up(p, DELIVERY)},
    Action.READ_ACCOUNT: {"can_read_account": lambda p: can_read_account(p, ACCOUNT)},
    Action.MANAGE_ACCOUNT: {
        "can_manage": lambda p: can_manage(p, ACCOUNT),
        "can_manage_webhooks of the account": lambda p: can_manage_webhooks(p, account_id=ACCOUNT),
    },
    Action.READ_OFFICE: {"can_read_office": lambda p: can_read_office(p, OFFICE)},
    Action.MANAGE_OFFICE: {
        "can_manage_office": lambda p: can_manage_office(p, OFFICE),
        "can_manage_webhooks of the office": lambda p: can_manage_webhooks(p, office_id=OFFICE),
    },
    Action.DISPATCH: {"can_dispatch_for": lambda p: can_dispatch_for(p, OFFICE)},
    Action.PRINT: {
        "can_print": lambda p: can_print(p, OFFICE),
        "prints_any_office": lambda p: prints_any_office(p) and OFFICE in p.office_roles,
    },
}

CASES = [
    pytest.param(action, name, question, kind, id=f"{name}-{kind_name}")
    for action, questions in QUESTIONS.items()
    for name, question in questions.items()
    for kind_name, kind in KINDS.items()
]


def test_policy_table_covers_every_action() -> None:
    assert set(POLICY) == set(Action)
    assert all(POLICY[action] for action in Action)


def test_policy_table_is_the_documented_one() -> None:
    assert {action: set(roles) for action, roles in POLICY.items()} == DOCUMENTED


def test_every_action_has_a_named_question() -> None:
    assert set(QUESTIONS) == set(Action)


@pytest.mark.parametrize(("action", "name", "question", "kind"), CASES)
def test_named_question_answers_what_the_table_says(
    action: Action, name: str, question: Question, kind: Kind
) -> None:
    expected = kind.holds is not None and kind.holds in POLICY[action]
    assert question(kind.principal) is expected


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("kind", list(KINDS.values()), ids=list(KINDS))
def test_listed_accounts_and_offices_follow_the_table(action: Action, kind: Kind) -> None:
    allowed = kind.holds is not None and kind.holds in POLICY[action]
    listed = ACCOUNT in accounts_where(kind.principal, action) or OFFICE in offices_where(
        kind.principal, action
    )
    assert listed is allowed


@pytest.mark.parametrize("kind", list(KINDS.values()), ids=list(KINDS))
def test_pages_offer_settings_and_office_look_up_to_readers_only(kind: Kind) -> None:
    p = kind.principal
    held = {
        Role(r) for roles in (*p.account_roles.values(), *p.office_roles.values()) for r in roles
    }
    assert reads_any_account(p) is bool(held & POLICY[Action.READ_ACCOUNT])
    assert reads_any_office(p) is bool(held & POLICY[Action.READ_OFFICE])


def test_admin_alone_is_allowed_nothing() -> None:
    admin = KINDS["admin user"].principal
    assert not any(
        question(admin) for questions in QUESTIONS.values() for question in questions.values()
    )
    assert not reads_any_account(admin) and not reads_any_office(admin)


def test_office_staff_read_but_never_pick_up() -> None:
    for role in (DISPATCHER, AUDITOR):
        staff = _user(offices={OFFICE: role})
        assert can_read_delivery(staff, DELIVERY) and can_read_evidence(staff, DELIVERY)
        assert not can_pick_up(staff, DELIVERY)


def test_account_role_is_the_strongest_held() -> None:
    both = Principal(
        user_id="usr_test",
        email="",
        display_name="",
        account_roles={ACCOUNT: frozenset({"viewer", "owner", "editor"})},
    )
    assert account_role(both, ACCOUNT) is OWNER
    assert account_role(_user({ACCOUNT: EDITOR}), ACCOUNT) is EDITOR
    assert account_role(_user({ACCOUNT: EDITOR}), OTHER_ACCOUNT) is None
    assert account_role(_user(offices={OFFICE: DISPATCHER}), ACCOUNT) is None


def test_dispatch_office_is_the_only_one_held_when_none_is_named() -> None:
    assert dispatch_office(_user(offices={OFFICE: DISPATCHER}), None) == OFFICE
    assert dispatch_office(_client(office_id=OFFICE, role=DISPATCHER), None) == OFFICE


def test_dispatch_office_is_the_one_named_when_held() -> None:
    both = _user(offices={OFFICE: DISPATCHER, OTHER_OFFICE: DISPATCHER})
    assert dispatch_office(both, OTHER_OFFICE) == OTHER_OFFICE


@pytest.mark.parametrize(
    ("principal", "office_id", "refusal"),
    [
        (_user(offices={OFFICE: AUDITOR}), None, "Only an office's dispatchers"),
        (_user({ACCOUNT: OWNER}), OFFICE, "Only an office's dispatchers"),
        (_user(), None, "Only an office's dispatchers"),
        (
            _user(offices={OFFICE: DISPATCHER, OTHER_OFFICE: DISPATCHER}),
            None,
            "You dispatch for several offices",
        ),
        (
            _user(offices={OFFICE: DISPATCHER, OTHER_OFFICE: AUDITOR}),
            OTHER_OFFICE,
            f"You may not dispatch as office {OTHER_OFFICE}",
        ),
    ],
    ids=["auditor", "account owner", "no grants", "several offices", "office not dispatched for"],
)
def test_dispatch_office_refused(principal: Principal, office_id: str | None, refusal: str) -> None:
    with pytest.raises(PermissionDenied, match=refusal):
        dispatch_office(principal, office_id)


@pytest.mark.parametrize("name", sorted(KINDS))
def test_second_factor_is_required_of_dispatchers_and_auditors_only(name: str) -> None:
    """People holding a dispatcher, auditor or printer role on any office must log in with a second
    factor; account grantees may choose; machine clients never log in with a password."""
    kind = KINDS[name]
    staff = kind.principal.kind == "user" and bool(kind.principal.office_roles)
    assert second_factor_required(kind.principal) is staff


def test_health_is_for_anyone_and_metrics_for_scrapers_only() -> None:
    assert set(OBSERVERS) == set(Observation)
    for observation in (Observation.LIVENESS, Observation.READINESS):
        assert can_observe(observation, scraper=False)
    assert not can_observe(Observation.METRICS, scraper=False)
    assert can_observe(Observation.METRICS, scraper=True)
