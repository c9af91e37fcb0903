"""Ending access tokens before they expire: a log-out ends its web session's token, and a
password change ends every token the user held.

An access token carries a ``jti`` (its id) and, for a user, the ``epoch`` of the user's
credentials when it was issued. A log-out records the session token's ``jti`` as revoked until
the token's expiry; a password change raises the user's ``credentials_epoch``, so every token
of an earlier epoch (each browser session, each bearer token of the API) is refused. Both live
in the database, so every process of one install refuses the same tokens. Tokens issued
before ids and epochs existed count as epoch 0 and, having no id, cannot be logged out one
by one (they expire within the token lifetime).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.db import Database
from mailbox.errors import FieldError, InvalidRequest, NotAuthenticated, NotFound
from mailbox.identity.auth import hash_password
from mailbox.identity.passwords import check_new_password
from mailbox.identity.throttle import LoginLimits, log_in_with_password
from mailbox.models import RevokedToken, User

__all__ = ["change_password", "check_current", "log_out", "revoke_token"]

log = logging.getLogger("mailbox.identity")

# Expired revocations deleted per log-out: enough to keep up, bounded in cost.
PURGE_BATCH = 100


def _epoch(claims: dict[str, Any]) -> int:
    epoch = claims.get("epoch", 0)
    if not isinstance(epoch, int) or isinstance(epoch, bool):
        raise NotAuthenticated("The access token has malformed claims")
    return epoch


async def check_current(*, session: AsyncSession, claims: dict[str, Any]) -> None:
    """Refuse (:class:`NotAuthenticated`) a token that was logged out, or a user's token issued
    before the user's password last changed."""
    jti = claims.get("jti")
    if isinstance(jti, str) and await session.get(RevokedToken, jti) is not None:
        raise NotAuthenticated("This session was logged out; log in again")
    if claims.get("kind", "user") == "user":
        user = await session.get(User, claims["sub"])
        if user is not None and _epoch(claims) < user.credentials_epoch:
            raise NotAuthenticated(
                "The password was changed after this token was issued; log in again"
            )


async def revoke_token(*, session: AsyncSession, claims: dict[str, Any]) -> None:
    """Refuse the token with these (verified) claims from now until it expires; forget a
    bounded batch of revocations whose tokens have expired on the way."""
    moment = now()
    stale = (
        select(RevokedToken.jti).where(col(RevokedToken.expires_at) <= moment).limit(PURGE_BATCH)
    )
    await session.exec(delete(RevokedToken).where(col(RevokedToken.jti).in_(stale)))
    jti = claims.get("jti")
    if not isinstance(jti, str) or await session.get(RevokedToken, jti) is not None:
        return
    expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    session.add(RevokedToken(jti=jti, expires_at=expires_at))
    await session.flush()


async def log_out(db: Database, claims: dict[str, Any]) -> None:
    """End the web session whose access token has these (verified) claims."""
    async with db.write() as session:
        await revoke_token(session=session, claims=claims)


async def change_password(
    db: Database,
    limits: LoginLimits,
    *,
    user_id: str,
    current_password: str,
    new_password: str,
    address: str | None,
) -> User:
    """Set the password of ``user_id`` to ``new_password`` once ``current_password`` is proven
    (a wrong one counts as a failed log-in, and the log-in limits apply), and end every token
    issued before. The new password must meet :func:`~mailbox.identity.passwords.
    password_problem`. Return the user, whose new epoch fresh tokens must carry."""
    async with db.session() as session:
        user = await session.get(User, user_id)
        if user is None or user.disabled:
            raise NotFound(f"No user {user_id}")
        email = user.email
    check_new_password(new_password, email=email, field="new_password")
    if new_password == current_password:
        raise InvalidRequest(
            "The new password must differ from the current one",
            errors=[FieldError("new_password", "must differ from the current password")],
        )
    try:
        await log_in_with_password(
            db, limits, email=email, password=current_password, address=address
        )
    except NotAuthenticated:
        raise InvalidRequest(
            "The current password is wrong; the password was not changed",
            errors=[FieldError("current_password", "is not your current password")],
        ) from None
    password_hash = await asyncio.to_thread(hash_password, new_password)
    async with db.write() as session:
        user = await session.get(User, user_id, with_for_update=True)
        assert user is not None
        user.password_hash = password_hash
        user.credentials_epoch += 1
        session.add(user)
        await session.flush()
        log.info(
            "password changed; every earlier session and token of the user ended",
            extra={"user_id": user.id},
        )
        return user
