"""Who may do what: the principal behind a request and the checks the guards and domain use.

Other people's deliveries are reported as not found (404), never as forbidden, so that their
existence does not leak.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.errors import NotAuthenticated, NotFound, PermissionDenied
from mailbox.models import ApiClient, Delivery, Grant, Role, User

__all__ = ["Principal", "authenticate_password", "load_client_principal", "load_principal"]


@dataclass(frozen=True)
class Principal:
    """An authenticated user and their grants, loaded once per request."""

    user_id: str  # the user's id, or the machine client's client_id
    email: str
    display_name: str
    is_admin: bool = False
    account_roles: dict[str, frozenset[str]] = field(default_factory=dict)
    office_roles: dict[str, frozenset[str]] = field(default_factory=dict)
    kind: str = "user"  # user | client

    @property
    def actor(self) -> str:
        """How this principal is named in evidence records: ``user:<id>`` or ``client:<id>``."""
        return f"{self.kind}:{self.user_id}"

    @property
    def account_ids(self) -> list[str]:
        return sorted(self.account_roles)

    def has_office_role(self, office_id: str, role: Role) -> bool:
        return role.value in self.office_roles.get(office_id, frozenset())

    def offices_with(self, role: Role) -> list[str]:
        return sorted(o for o, roles in self.office_roles.items() if role.value in roles)

    def dispatch_office(self, office_id: str | None) -> str:
        """The office this principal dispatches for: the one asked (if held) or its only one."""
        offices = self.offices_with(Role.DISPATCHER)
        if not offices:
            raise PermissionDenied("Only an office's dispatchers may dispatch documents")
        if office_id is None:
            if len(offices) > 1:
                raise PermissionDenied("You dispatch for several offices; name one with office_id")
            return offices[0]
        if office_id not in offices:
            raise PermissionDenied(f"You may not dispatch as office {office_id}")
        return office_id

    def can_read_delivery(self, delivery: Delivery) -> bool:
        """Account grantees read their deliveries; dispatchers and auditors their office's."""
        if delivery.account_id in self.account_roles:
            return True
        roles = self.office_roles.get(delivery.office_id, frozenset())
        return bool(roles & {Role.DISPATCHER.value, Role.AUDITOR.value})

    def require_delivery(self, delivery: Delivery | None, delivery_id: str) -> Delivery:
        if delivery is None or not self.can_read_delivery(delivery):
            raise NotFound(f"No delivery {delivery_id}")
        return delivery


async def load_principal(session: AsyncSession, user_id: str) -> Principal:
    """The principal of user ``user_id`` with all its grants."""
    user = await session.get(User, user_id)
    if user is None or user.disabled:
        raise NotAuthenticated("The user of this token no longer exists or is disabled")
    grants = (await session.exec(select(Grant).where(Grant.user_id == user_id))).all()
    accounts: dict[str, set[str]] = {}
    offices: dict[str, set[str]] = {}
    for grant in grants:
        if grant.account_id is not None:
            accounts.setdefault(grant.account_id, set()).add(grant.role)
        if grant.office_id is not None:
            offices.setdefault(grant.office_id, set()).add(grant.role)
    return Principal(
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        is_admin=user.is_admin,
        account_roles={k: frozenset(v) for k, v in accounts.items()},
        office_roles={k: frozenset(v) for k, v in offices.items()},
    )


async def load_client_principal(session: AsyncSession, client_id: str) -> Principal:
    """The principal of machine client ``client_id``: its one role on one office or account."""
    client = await session.get(ApiClient, client_id)
    if client is None or client.disabled:
        raise NotAuthenticated("The client of this token no longer exists or is disabled")
    roles = frozenset({client.role})
    return Principal(
        user_id=client.id,
        email="",
        display_name=client.name,
        account_roles={client.account_id: roles} if client.account_id else {},
        office_roles={client.office_id: roles} if client.office_id else {},
        kind="client",
    )


async def authenticate_password(session: AsyncSession, email: str, password: str) -> User:
    """The user with ``email`` if ``password`` is theirs; one error for every failure."""
    import asyncio

    from mailbox.identity.auth import verify_password

    user = (
        await session.exec(select(User).where(User.email == email.strip().lower()))
    ).one_or_none()
    ok = await asyncio.to_thread(verify_password, user.password_hash if user else None, password)
    if not ok or user is None or user.disabled:
        raise NotAuthenticated("Wrong email or password")
    return user
