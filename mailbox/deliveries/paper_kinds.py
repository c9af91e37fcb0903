"""The document kinds an office serves on paper only (paper by law): set from the command line
by an administrator, or through the API by the office's own dispatchers.

A kind marked paper-only sends every later dispatch of that kind on paper
(:func:`mailbox.deliveries.paper_rule.who_gets_paper`, reason ``paper_only_kind``);
deliveries already made keep their course.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.deliveries.dispatch import KIND_CODE
from mailbox.errors import FieldError, InvalidRequest
from mailbox.identity.admin import find_office, office_seen_by
from mailbox.identity.principal import Principal
from mailbox.models import Office
from mailbox.services import Services

__all__ = ["change_paper_only_kind", "set_paper_only_kind"]


async def set_paper_only_kind(
    *, session: AsyncSession, office: str, kind_code: str, paper_only: bool
) -> Office:
    """Mark documents of ``kind_code`` of ``office`` (its id or code) paper-only, or no longer
    (``paper_only`` False). Setting what is already set changes nothing. :class:`NotFound` for
    an unknown office, :class:`InvalidRequest` for a kind code that no dispatch could carry."""
    kind_code = kind_code.strip()
    if not KIND_CODE.match(kind_code):
        raise InvalidRequest(
            f"{kind_code!r} is not a document kind code",
            errors=[FieldError("kind_code", "1-32 letters, digits, '.', '_' or '-'")],
        )
    found = await find_office(session=session, office=office)
    kinds = set(found.paper_only_kinds or [])
    kinds = kinds | {kind_code} if paper_only else kinds - {kind_code}
    # A new list, so that the JSON column is seen as changed.
    found.paper_only_kinds = sorted(kinds)
    session.add(found)
    await session.flush()
    return found


async def change_paper_only_kind(
    services: Services, principal: Principal, *, office_code: str, kind_code: str, paper_only: bool
) -> Office:
    """The office's dispatchers mark a kind paper-only or not (one transaction). Who does not
    see the office is told it does not exist; its auditors are refused."""
    async with services.db.write() as session:
        office = await office_seen_by(
            session=session, principal=principal, office=office_code, change="its paper-only kinds"
        )
        return await set_paper_only_kind(
            session=session, office=office.id, kind_code=kind_code, paper_only=paper_only
        )
