"""Schemas of the office directory: transport only."""

from __future__ import annotations

from msgspec import Struct

from mailbox.models import Account, Office

__all__ = ["OfficePublic"]


class OfficePublic(Struct, kw_only=True):
    """An office as other offices and applicants see it. ``mailbox_account_id`` is where
    another office serves it documents (the ``recipient_account_id`` of a dispatch); null
    while the office has opened no mailbox."""

    code: str
    name: str
    time_zone: str
    mailbox_account_id: str | None

    @classmethod
    def of(cls, office: Office, mailbox: Account | None) -> OfficePublic:
        return cls(
            code=office.code,
            name=office.name,
            time_zone=office.time_zone,
            mailbox_account_id=mailbox.id if mailbox is not None else None,
        )
