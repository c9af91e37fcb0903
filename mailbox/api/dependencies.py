"""What handlers are given besides the request: the service's parts and, for handlers that call
read functions, a database session.

Handlers never open sessions themselves. A handler that changes something calls a use case
(which owns its transaction); a handler that only reads declares ``session: AsyncSession`` and
passes it to read functions: one unit of work for the request, closed before the response is
sent. (The caller's principal is loaded by :mod:`mailbox.api.security` before either.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from litestar.datastructures import State
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.services import Services

__all__ = ["provide_services", "provide_session"]


def provide_services(state: State) -> Services:
    return state.services


async def provide_session(services: Services) -> AsyncIterator[AsyncSession]:
    """A session for read functions, for the length of the handler."""
    async with services.db.session() as session:
        yield session
