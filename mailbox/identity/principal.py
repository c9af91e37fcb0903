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
from mailbox.models import Grant, User

__all__ = ["Principal", "authenticate_password", "load_principal"]


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
