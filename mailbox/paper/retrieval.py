"""The electronic copy of a paper letter: the recipient, signed in, enters the retrieval code
printed on the letter; the delivery is then linked to an account they own (or one they create
there and then), and its people may open the sealed document.

Opening it records a ContentHandover the first time, ContentAccess later
(:func:`mailbox.deliveries.rules.hand_over_paper_copy`): the delivery stays on its paper course
and its legal date stays what the legal clock says of the paper service.

A code works once. Wrong codes are counted per person and per client address within a window
(settings ``retrieval_failures_per_user``, ``retrieval_failures_per_address``,
``retrieval_failure_window_seconds``); past either limit every try is refused with
:class:`~mailbox.errors.TooManyAttempts` (429) without looking at the code, as log-ins are
(:mod:`mailbox.identity.throttle`).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.deliveries import rules
from mailbox.deliveries.data_documents import download_filename
from mailbox.deliveries.pickup import SealedDocument
from mailbox.errors import (
    Conflict,
    FieldError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    TooManyAttempts,
)
from mailbox.evidence import log as evidence
from mailbox.identity.policy import Action, accounts_where, allows, can_manage
from mailbox.identity.principal import Principal
from mailbox.models import (
    Account,
    Delivery,
    Document,
    Grant,
    RetrievalCode,
    RetrievalFailure,
    Role,
)
from mailbox.paper.codes import code_hash, normalise_code
from mailbox.services import Services

__all__ = ["NEW_ACCOUNT", "Redeemed", "open_paper_copy", "redeem_code", "retrieved_by"]

NEW_ACCOUNT = "new"  # the account_id that asks for a new account, owned by the person
PURGE_BATCH = 100


@dataclass(frozen=True)
class Redeemed:
    delivery_id: str
    account_id: str


def _key(kind: str, value: str) -> str:
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()}"


async def _refused_for(
    session: AsyncSession, key: str, limit: int, window: timedelta
) -> int | None:
    moment = now()
    recent: list[datetime] = list(
        (
            await session.exec(
                select(RetrievalFailure.at)
                .where(RetrievalFailure.key == key, RetrievalFailure.at > moment - window)
                .order_by(col(RetrievalFailure.at).desc())
                .limit(limit)
            )
        ).all()
    )
    if len(recent) < limit:
        return None
    return max(1, math.ceil((recent[-1] + window - moment).total_seconds()))


async def _count_failure(services: Services, keys: list[str], window: timedelta) -> None:
    moment = now()
    async with services.db.write() as session:
        stale = (
            select(RetrievalFailure.id)
            .where(RetrievalFailure.at <= moment - window)
            .limit(PURGE_BATCH)
        )
        await session.exec(delete(RetrievalFailure).where(col(RetrievalFailure.id).in_(stale)))
        session.add_all(RetrievalFailure(key=key, at=moment) for key in keys)


async def redeem_code(
    services: Services,
    principal: Principal,
    typed: str,
    *,
    account_id: str | None,
    account_name: str = "",
    ip: str | None,
) -> Redeemed:
    """Link the delivery whose letter printed ``typed`` to ``account_id`` (an account the
    person owns; ``None`` when they own exactly one; :data:`NEW_ACCOUNT` to create one named
    ``account_name`` at the letter's address, owned by them). Refusals: 429 while too many
    wrong codes were entered; 422 for a code that is mistyped or unknown, 409 for one already
    used (each counted as a wrong code); 403 for an account the person does not own."""
    if principal.kind != "user":
        raise PermissionDenied("Only a person redeems a retrieval code")
    settings = services.settings
    window = timedelta(seconds=settings.retrieval_failure_window_seconds)
    limits = {
        _key("user", principal.user_id): settings.retrieval_failures_per_user,
        _key("address", ip or "unknown"): settings.retrieval_failures_per_address,
    }
    async with services.db.session() as session:
        waits = [await _refused_for(session, k, n, window) for k, n in limits.items()]
    retry_after = max((w for w in waits if w is not None), default=None)
    if retry_after is not None:
        minutes = math.ceil(retry_after / 60)
        raise TooManyAttempts(
            f"Too many wrong retrieval codes. Try again in {minutes} minute"
            f"{'s' if minutes != 1 else ''}.",
            retry_after=retry_after,
        )
    target = _choose_account(principal, account_id, account_name)
    code = normalise_code(typed)
    if code is None:
        await _count_failure(services, list(limits), window)
        raise InvalidRequest(
            "This is not a retrieval code: check it against the letter (16 characters and a "
            "check character, e.g. ABCD-EFGH-JKMN-PQRS-T)",
            errors=[FieldError("code", "not a well-formed retrieval code")],
        )
    async with services.db.write() as session:
        row = (
            await session.exec(
                select(RetrievalCode)
                .where(RetrievalCode.code_hash == code_hash(code))
                .with_for_update()
            )
        ).first()
        if row is not None and row.redeemed_at is None:
            delivery = await session.get(Delivery, row.delivery_id)
            assert delivery is not None
            account = await _account(session, principal, target, account_name, delivery)
            row.redeemed_at, row.redeemed_by, row.account_id = now(), principal.actor, account
            session.add(row)
            return Redeemed(row.delivery_id, account)
    await _count_failure(services, list(limits), window)
    if row is None:
        raise InvalidRequest(
            "No letter carries this retrieval code",
            errors=[FieldError("code", "no letter carries this code")],
        )
    raise Conflict("This retrieval code was used already; it works once")


def _choose_account(principal: Principal, account_id: str | None, name: str) -> str:
    if account_id == NEW_ACCOUNT:
        if not name.strip() or len(name.strip()) > 200:
            raise InvalidRequest(
                "Name the new account (1-200 characters)",
                errors=[FieldError("account_name", "1-200 characters")],
            )
        return NEW_ACCOUNT
    owned = accounts_where(principal, Action.MANAGE_ACCOUNT)
    if account_id is None:
        if len(owned) != 1:
            raise InvalidRequest(
                "Choose the account to link the letter to (or a new one)",
                errors=[FieldError("account_id", "one of the accounts you own, or new")],
            )
        return owned[0]
    if not can_manage(principal, account_id):
        raise PermissionDenied("You may link letters only to accounts you own")
    return account_id


async def _account(
    session: AsyncSession, principal: Principal, target: str, name: str, delivery: Delivery
) -> str:
    if target != NEW_ACCOUNT:
        return target
    addressee = await session.get(Account, delivery.account_id)
    account = Account(
        name=name.strip(), postal_address=addressee.postal_address if addressee else ""
    )
    session.add(account)
    await session.flush()
    session.add(Grant(user_id=principal.user_id, role=Role.OWNER, account_id=account.id))
    return account.id


async def retrieved_by(*, session: AsyncSession, principal: Principal) -> list[RetrievalCode]:
    """The redeemed codes of the accounts the principal may pick up for, newest first."""
    accounts = accounts_where(principal, Action.PICK_UP)
    if not accounts:
        return []
    rows = await session.exec(
        select(RetrievalCode)
        .where(col(RetrievalCode.account_id).in_(accounts))
        .order_by(col(RetrievalCode.redeemed_at).desc())
        .limit(100)
    )
    return list(rows.all())


async def open_paper_copy(
    services: Services, principal: Principal, delivery_id: str, *, ip: str | None
) -> SealedDocument:
    """The sealed PDF of a paper delivery for the people of the account its retrieval code
    linked it to; :class:`NotFound` for anyone else, :class:`PermissionDenied` for the people
    of its own account until they redeem the code. Read and
    authenticated first, then recorded (ContentHandover the first time, else ContentAccess);
    the delivery's status and legal date do not change."""
    async with services.db.session() as session:
        delivery = await session.get(Delivery, delivery_id)
        link = (
            await session.exec(
                select(RetrievalCode).where(RetrievalCode.delivery_id == delivery_id)
            )
        ).first()
        linked = link.account_id if link is not None and link.redeemed_at else None
        own = delivery is not None and allows(
            principal, Action.PICK_UP, account_id=delivery.account_id
        )
        through_code = linked is not None and allows(principal, Action.PICK_UP, account_id=linked)
        if delivery is None or not (own or through_code):
            raise NotFound(f"No delivery {delivery_id}")
        document = await session.get(Document, delivery.document_id)
        assert document is not None
    # A delivery not on paper is refused (409: its document is downloaded as usual) before
    # anything is read; a paper one only once its letter's code was redeemed.
    rules.hand_over_paper_copy(delivery, at=now(), actor=principal.actor, ip=ip, first=False)
    if not through_code:
        raise PermissionDenied(
            "Enter the retrieval code printed on the letter first (Retrieve a paper letter)"
        )
    content = await asyncio.to_thread(services.blobs.get, document.sealed_sha256)
    async with services.db.write() as session:
        locked = (
            await session.exec(select(Delivery).where(Delivery.id == delivery_id).with_for_update())
        ).one()
        code = (
            await session.exec(
                select(RetrievalCode).where(RetrievalCode.delivery_id == delivery_id)
            )
        ).first()
        first = code is None or code.first_opened_at is None
        at = now()
        draft = rules.hand_over_paper_copy(locked, at=at, actor=principal.actor, ip=ip, first=first)
        if code is not None and first:
            code.first_opened_at = at
            session.add(code)
        await evidence.append(
            session,
            services.evidence,
            draft,
            delivery_id=locked.id,
            original_sha256=document.original_sha256,
            sealed_sha256=document.sealed_sha256,
            at=at,
        )
    return SealedDocument(
        download_filename(document.filename, document.media_type),
        content,
        document.sealed_sha256,
        draft.type.value,
        media_type=document.media_type,  # a data document is served as what it is
    )
