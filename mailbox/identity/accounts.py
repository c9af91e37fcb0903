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

from sqlalchemy import and_, exists, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.db import LIKE_ESCAPE, contains_pattern
from mailbox.errors import FieldError, InvalidRequest, NotFound, PermissionDenied
from mailbox.identity.policy import (
    Action,
    account_role,
    accounts_where,
    can_choose_recipients,
    can_manage,
    can_read_account,
)
from mailbox.identity.principal import Principal
from mailbox.models import Account, NotificationAddress, Role
from mailbox.pagination import check_page, decode_cursor, encode_cursor

__all__ = [
    "RECIPIENT_QUERY_MIN",
    "AccountPage",
    "AccountView",
    "EdeliveryStatus",
    "account_for",
    "edelivery_status",
    "find_recipients",
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


RECIPIENT_QUERY_MIN = 2  # characters of a name searched for
RECIPIENT_RESULTS_MAX = 20


async def find_recipients(
    *, session: AsyncSession, principal: Principal, query: str
) -> list[Account]:
    """The accounts a dispatcher may serve a document on that match ``query``: its id, a part
    of its name (any case), or one of its alert addresses written in full (addresses are
    matched, never listed). At most 20, by name. :class:`PermissionDenied` for anyone who
    dispatches for no office; :class:`InvalidRequest` for a query too short to mean one."""
    if not can_choose_recipients(principal):
        raise PermissionDenied("Only an office's dispatchers look up recipients")
    text = query.strip()
    if len(text) < RECIPIENT_QUERY_MIN or len(text) > 200:
        raise InvalidRequest(
            "Type at least two characters of the recipient's name, or its email or account id",
            errors=[FieldError("recipient_query", f"{RECIPIENT_QUERY_MIN}-200 characters")],
        )
    by_address = exists().where(
        col(NotificationAddress.account_id) == col(Account.id),
        func.lower(col(NotificationAddress.email)) == text.lower(),
    )
    rows = await session.exec(
        select(Account)
        .where(
            or_(
                col(Account.id) == text,
                func.lower(col(Account.name)).like(contains_pattern(text), escape=LIKE_ESCAPE),
                by_address,
            )
        )
        .order_by(col(Account.name), col(Account.id))
        .limit(RECIPIENT_RESULTS_MAX)
    )
    return list(rows.all())
