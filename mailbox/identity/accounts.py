"""The accounts a user acts for: which ones they hold grants on, their role there, whether
electronic delivery is active, and the one access check the account settings use.

Reading needs any grant on the account (owner, editor, viewer); changing needs ``owner``.
Accounts the user holds no grant on are reported as not found, never as forbidden.
Query functions take ``session`` keyword-only and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import and_, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.errors import NotFound, PermissionDenied
from mailbox.identity.principal import Principal
from mailbox.models import Account, Role
from mailbox.pagination import check_limit, decode_cursor, encode_cursor

__all__ = [
    "AccountPage",
    "AccountView",
    "EdeliveryStatus",
    "account_for",
    "can_manage",
    "edelivery_status",
    "list_accounts",
    "role_on",
]

# Strongest first: the role reported when a user holds several grants on one account.
_ROLE_ORDER = (Role.OWNER, Role.EDITOR, Role.VIEWER)


class EdeliveryStatus(StrEnum):
    """Whether documents reach the account electronically (the rule is in
    mailbox.deliveries.rules)."""

    ACTIVE = "active"  # consent and a verified address
    INACTIVE = "inactive"  # no consent or no verified address: documents go to paper
    SUSPENDED = "suspended"  # notifications failed permanently: paper until an owner re-enables


@dataclass(frozen=True)
class AccountView:
    account: Account
    role: Role


@dataclass(frozen=True)
class AccountPage:
    items: list[AccountView]
    next_cursor: str | None


def edelivery_status(account: Account) -> EdeliveryStatus:
    """The account's electronic delivery status, in the order mailbox.deliveries.rules applies
    it."""
    if account.edelivery_suspended_reason:
        return EdeliveryStatus.SUSPENDED
    if account.edelivery_active:
        return EdeliveryStatus.ACTIVE
    return EdeliveryStatus.INACTIVE


def role_on(principal: Principal, account_id: str) -> Role | None:
    """The principal's strongest role on the account, or ``None`` without a grant."""
    roles = principal.account_roles.get(account_id, frozenset())
    return next((role for role in _ROLE_ORDER if role.value in roles), None)


def can_manage(principal: Principal, account_id: str) -> bool:
    """True when the principal may change the account's settings: its owners."""
    return role_on(principal, account_id) is Role.OWNER


async def account_for(
    *, session: AsyncSession, principal: Principal, account_id: str, manage: bool = False
) -> Account:
    """The account ``account_id`` if the principal may read it (any grant) or, with
    ``manage``, change its settings (owner). :class:`NotFound` without a grant,
    :class:`PermissionDenied` for an editor or viewer asking to change."""
    role = role_on(principal, account_id)
    account = await session.get(Account, account_id) if role is not None else None
    if account is None:
        raise NotFound(f"No account {account_id}")
    if manage and not can_manage(principal, account_id):
        raise PermissionDenied(
            f"Only an owner of account {account_id} may change it; you are {role.value}"
        )
    return account


async def list_accounts(
    *, session: AsyncSession, principal: Principal, limit: int = 50, cursor: str | None = None
) -> AccountPage:
    """The accounts the principal holds a grant on, oldest first, keyset-paginated."""
    check_limit(limit)
    if not principal.account_ids:
        return AccountPage([], None)
    query = select(Account).where(col(Account.id).in_(principal.account_ids))
    if cursor:
        at, last_id = decode_cursor(cursor)
        query = query.where(
            or_(
                col(Account.created_at) > at,
                and_(col(Account.created_at) == at, col(Account.id) > last_id),
            )
        )
    query = query.order_by(col(Account.created_at), col(Account.id)).limit(limit + 1)
    rows = list((await session.exec(query)).all())
    items = []
    for account in rows[:limit]:
        role = role_on(principal, account.id)
        assert role is not None  # the query only returns accounts the principal holds
        items.append(AccountView(account, role))
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last.created_at, last.id)
    return AccountPage(items, next_cursor)
