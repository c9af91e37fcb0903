"""The accounts a user acts for: which ones they hold grants on, their role there, whether
electronic delivery is active, and the access check the account settings use.

Who may read or change an account is the access policy's answer (mailbox.identity.policy:
any grant reads, owners change). Accounts the user may not read are reported as not found,
never as forbidden.
Query functions take ``session`` keyword-only and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import and_, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.errors import NotFound, PermissionDenied
from mailbox.identity.policy import (
    Action,
    account_role,
    accounts_where,
    can_manage,
    can_read_account,
)
from mailbox.identity.principal import Principal
from mailbox.models import Account, Role
from mailbox.pagination import check_page, decode_cursor, encode_cursor

__all__ = [
    "AccountPage",
    "AccountView",
    "EdeliveryStatus",
    "account_for",
    "edelivery_status",
    "list_accounts",
]


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


async def account_for(
    *, session: AsyncSession, principal: Principal, account_id: str, manage: bool = False
) -> Account:
    """The account ``account_id`` if the principal may read it (any grant) or, with
    ``manage``, change its settings (owner). :class:`NotFound` without a grant,
    :class:`PermissionDenied` for an editor or viewer asking to change."""
    readable = can_read_account(principal, account_id)
    account = await session.get(Account, account_id) if readable else None
    if account is None:
        raise NotFound(f"No account {account_id}")
    if manage and not can_manage(principal, account_id):
        role = account_role(principal, account_id)
        raise PermissionDenied(
            f"Only an owner of account {account_id} may change it; you are {role}"
        )
    return account


async def list_accounts(
    *, session: AsyncSession, principal: Principal, limit: int = 50, cursor: str | None = None
) -> AccountPage:
    """The accounts the principal may read, oldest first, keyset-paginated."""
    check_page(limit, cursor)
    readable = accounts_where(principal, Action.READ_ACCOUNT)
    if not readable:
        return AccountPage([], None)
    query = select(Account).where(col(Account.id).in_(readable))
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
        role = account_role(principal, account.id)
        assert role is not None  # the query only returns accounts the principal reads
        items.append(AccountView(account, role))
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last.created_at, last.id)
    return AccountPage(items, next_cursor)
