"""Administration: creating offices, accounts, users and grants, and consenting to electronic
delivery. Used by the CLI, the demo data and the tests; functions take ``session`` keyword-only
and never commit."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.errors import Conflict, FieldError, InvalidRequest, NotFound, PermissionDenied
from mailbox.identity.auth import hash_password
from mailbox.identity.passwords import password_problem
from mailbox.identity.policy import can_manage_office, can_read_office
from mailbox.identity.principal import Principal
from mailbox.models import Account, Grant, NotificationAddress, Office, Role, User
from mailbox.models.parties import ACCOUNT_ROLES, OFFICE_ROLES

__all__ = [
    "add_verified_address",
    "create_account",
    "create_office",
    "create_user",
    "find_office",
    "grant_role",
    "office_mailbox",
    "open_office_mailbox",
    "refresh_edelivery",
    "set_active_content_policy",
]

# An office's policy for PDFs with active content (see mailbox.signing.active_content).
ACTIVE_CONTENT_POLICIES = ("reject", "allow")
# Any character but "@" and white space, white space spelled out (Python's and JavaScript's
# union), so that this pattern means the same in the OpenAPI document as here.
_PART = r"[^@ \t\n\r\f\v\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+"
EMAIL = re.compile(rf"^{_PART}@{_PART}\.{_PART}$|^{_PART}@localhost$")


async def create_office(
    *,
    session: AsyncSession,
    code: str,
    name: str,
    deemed_delivery_days: int | None = None,
    paper_only_kinds: Sequence[str] = (),
    active_content: str = "reject",
    postal_address: str = "",
) -> Office:
    _check_active_content(active_content)
    code = code.strip().upper()
    if not re.fullmatch(r"[A-Z0-9]{2,16}", code):
        raise InvalidRequest(
            "Office code must be 2-16 letters or digits",
            errors=[FieldError("code", "2-16 letters or digits")],
        )
    if (await session.exec(select(Office).where(Office.code == code))).first():
        raise Conflict(f"An office with code {code} exists")
    office = Office(
        code=code,
        name=name.strip(),
        deemed_delivery_days=deemed_delivery_days,
        paper_only_kinds=list(paper_only_kinds),
        active_content=active_content,
        postal_address=postal_address.strip(),
    )
    session.add(office)
    await session.flush()
    return office


async def set_active_content_policy(
    *, session: AsyncSession, office: str, active_content: str
) -> Office:
    """Set whether ``office`` (its id or its code) accepts PDFs with active content:
    ``reject`` (the default) refuses them with a SubmissionRejection naming what was found,
    ``allow`` seals them and records what they carry in the SubmissionAcceptance record."""
    _check_active_content(active_content)
    found = await find_office(session=session, office=office)
    found.active_content = active_content
    session.add(found)
    await session.flush()
    return found


def _check_active_content(policy: str) -> None:
    if policy not in ACTIVE_CONTENT_POLICIES:
        raise InvalidRequest(
            f"Unknown active content policy {policy!r}",
            errors=[FieldError("active_content", "reject or allow")],
        )


async def create_account(
    *,
    session: AsyncSession,
    name: str,
    postal_address: str,
    language: str = "en",
    consent: bool = False,
) -> Account:
    errors = []
    if not name.strip():
        errors.append(FieldError("name", "is required"))
    if not postal_address.strip():
        errors.append(FieldError("postal_address", "is required (paper is the fallback)"))
    if errors:
        raise InvalidRequest("The account is invalid", errors=errors)
    account = Account(
        name=name.strip(),
        postal_address=postal_address.strip(),
        language=language,
        edelivery_consent_at=now() if consent else None,
    )
    session.add(account)
    await session.flush()
    return account


async def create_user(
    *, session: AsyncSession, email: str, password: str, display_name: str, is_admin: bool = False
) -> User:
    email = email.strip().lower()
    errors = []
    if not EMAIL.match(email):
        errors.append(FieldError("email", "is not an email address"))
    problem = password_problem(password, email=email)
    if problem is not None:
        errors.append(FieldError("password", problem))
    if errors:
        raise InvalidRequest("The user is invalid", errors=errors)
    if (await session.exec(select(User).where(User.email == email))).first():
        raise Conflict(f"A user with email {email} exists")
    user = User(
        email=email,
        display_name=display_name.strip() or email,
        password_hash=await asyncio.to_thread(hash_password, password),
        is_admin=is_admin,
    )
    session.add(user)
    await session.flush()
    return user


async def grant_role(
    *,
    session: AsyncSession,
    user_id: str,
    role: Role,
    account_id: str | None = None,
    office_id: str | None = None,
) -> Grant:
    """Give ``user_id`` a role on an account (owner/editor/viewer) or office
    (dispatcher/auditor)."""
    if (account_id is None) == (office_id is None):
        raise InvalidRequest("A grant names exactly one account or one office")
    if account_id is not None and role not in ACCOUNT_ROLES:
        raise InvalidRequest(f"Role {role} is not an account role")
    if office_id is not None and role not in OFFICE_ROLES:
        raise InvalidRequest(f"Role {role} is not an office role")
    if await session.get(User, user_id) is None:
        raise NotFound(f"No user {user_id}")
    if account_id is not None and await session.get(Account, account_id) is None:
        raise NotFound(f"No account {account_id}")
    if office_id is not None and await session.get(Office, office_id) is None:
        raise NotFound(f"No office {office_id}")
    grant = Grant(user_id=user_id, role=role.value, account_id=account_id, office_id=office_id)
    session.add(grant)
    await session.flush()
    return grant


async def refresh_edelivery(*, session: AsyncSession, account: Account) -> bool:
    """Recompute whether electronic delivery is active: consent and a verified address."""
    verified = (
        await session.exec(
            select(NotificationAddress).where(
                NotificationAddress.account_id == account.id,
                NotificationAddress.verified_at.is_not(None),  # type: ignore[union-attr]
            )
        )
    ).first()
    account.edelivery_active = account.edelivery_consent_at is not None and verified is not None
    session.add(account)
    return account.edelivery_active


async def add_verified_address(
    *, session: AsyncSession, account: Account, email: str
) -> NotificationAddress:
    """Add an address that an administrator has verified out of band (CLI, demo)."""
    email = email.strip().lower()
    if not EMAIL.match(email):
        raise InvalidRequest(
            "Not an email address", errors=[FieldError("email", "not an email address")]
        )
    address = NotificationAddress(account_id=account.id, email=email, verified_at=now())
    session.add(address)
    await session.flush()
    await refresh_edelivery(session=session, account=account)
    return address


async def open_office_mailbox(
    *, session: AsyncSession, office: str, email: str, postal_address: str | None = None
) -> tuple[Account, bool]:
    """The mailbox of ``office`` (its id or code), in which other offices serve it documents:
    an account tied to the office, with electronic delivery active (consent given by the
    office and ``email`` verified out of band by the administrator), so that nothing sent to
    an office goes on paper. Opened once: later calls return it, and whether it is new."""
    found = await find_office(session=session, office=office)
    existing = (await session.exec(select(Account).where(Account.office_id == found.id))).first()
    if existing is not None:
        return existing, False
    account = await create_account(
        session=session,
        name=found.name,
        postal_address=postal_address or f"{found.name} ({found.code})",
        consent=True,
    )
    account.office_id = found.id
    session.add(account)
    await add_verified_address(session=session, account=account, email=email)
    return account, True


async def office_mailbox(*, session: AsyncSession, office: str) -> tuple[Office, Account | None]:
    """``office`` (its id or code) and its mailbox, if it has opened one."""
    found = await find_office(session=session, office=office)
    mailbox = (await session.exec(select(Account).where(Account.office_id == found.id))).first()
    return found, mailbox


async def office_seen_by(
    *, session: AsyncSession, principal: Principal, office: str, change: str | None = None
) -> Office:
    """The office ``office`` (its id or code) as ``principal`` sees it. Who neither reads nor
    manages it is told it does not exist (:class:`NotFound`); with ``change`` (what the
    principal asks to change, in words), who sees it but may not manage it is refused
    (:class:`PermissionDenied`: "Only the office's dispatchers change ``change``")."""
    try:
        found = await find_office(session=session, office=office)
    except NotFound:
        found = None
    if found is None or not (
        can_read_office(principal, found.id) or can_manage_office(principal, found.id)
    ):
        raise NotFound(f"No office {office}")
    if change is not None and not can_manage_office(principal, found.id):
        raise PermissionDenied(f"Only the office's dispatchers change {change}")
    return found


async def find_office(*, session: AsyncSession, office: str) -> Office:
    """The office with id or code ``office``; :class:`NotFound` if none."""
    found = await session.get(Office, office)
    if found is None:
        found = (
            await session.exec(select(Office).where(Office.code == office.strip().upper()))
        ).first()
    if found is None:
        raise NotFound(f"No office {office}")
    return found
