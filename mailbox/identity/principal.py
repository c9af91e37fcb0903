"""The principal behind a request: a user with their grants, or a machine client with its one
role, loaded once per request; and password log-in.

Loading a principal builds its role dictionaries; what it may do with them is answered by the
access policy (:mod:`mailbox.identity.policy`), never by reading them elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.errors import NotAuthenticated
from mailbox.models import ApiClient, Grant, User

__all__ = ["Principal", "authenticate_password", "load_client_principal", "load_principal"]


@dataclass(frozen=True)
class Principal:
    """An authenticated user and their grants, loaded once per request."""

    user_id: str  # the user's id, or the machine client's client_id
    email: str
    display_name: str
    is_admin: bool = False
    # The roles held, by account and by office: read only by the access policy.
    account_roles: dict[str, frozenset[str]] = field(default_factory=dict)
    office_roles: dict[str, frozenset[str]] = field(default_factory=dict)
    kind: str = "user"  # user | client
    # A machine client's scopes (mailbox.identity.policy.Scope values); None for a person,
    # whose roles alone decide.
    scopes: frozenset[str] | None = None

    @property
    def actor(self) -> str:
        """How this principal is named in evidence records: ``user:<id>`` or ``client:<id>``."""
        return f"{self.kind}:{self.user_id}"


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


async def load_client_principal(
    session: AsyncSession, client_id: str, *, token_scopes: frozenset[str] | None = None
) -> Principal:
    """The principal of machine client ``client_id``: its one role on one office or account,
    and the scopes of its token (``token_scopes``; None: all it was registered with) that it
    still holds. A revoked client is refused."""
    client = await session.get(ApiClient, client_id)
    if client is None or client.disabled:
        raise NotAuthenticated("The client of this token was revoked or no longer exists")
    registered = frozenset(client.scopes)
    if client.created_by is not None:
        # Never more than its owner may do, now: a person who lost a role there (or left)
        # takes the scopes that role allowed away from the clients they registered.
        registered &= await _owner_scopes(session, client)
    scopes = registered if token_scopes is None else registered & token_scopes
    roles = frozenset({client.role})
    return Principal(
        user_id=client.id,
        email="",
        display_name=client.name,
        account_roles={client.account_id: roles} if client.account_id else {},
        office_roles={client.office_id: roles} if client.office_id else {},
        kind="client",
        scopes=scopes,
    )


async def _owner_scopes(session: AsyncSession, client: ApiClient) -> frozenset[str]:
    """The scopes the roles its registering person holds today, where the client acts, allow
    (none if that person is disabled or gone)."""
    from mailbox.identity.policy import scopes_allowed

    owner = await session.get(User, client.created_by)
    if owner is None or owner.disabled:
        return frozenset()
    where = (
        Grant.account_id == client.account_id
        if client.account_id is not None
        else Grant.office_id == client.office_id
    )
    held = (await session.exec(select(Grant.role).where(Grant.user_id == owner.id, where))).all()
    allowed = scopes_allowed(held, on_office=client.account_id is None)
    return frozenset(scope.value for scope in allowed)


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
