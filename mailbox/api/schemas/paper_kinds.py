"""Schemas of the paper rule's API: the document kinds an office serves on paper only."""

from __future__ import annotations

from msgspec import Struct

from mailbox.models import Office

__all__ = ["PaperOnlyKindsPublic"]


class PaperOnlyKindsPublic(Struct, kw_only=True):
    """The document kinds an office serves on paper only, sorted."""

    office_id: str
    office_code: str
    paper_only_kinds: list[str]

    @classmethod
    def of(cls, office: Office) -> PaperOnlyKindsPublic:
        return cls(
            office_id=office.id,
            office_code=office.code,
            paper_only_kinds=sorted(office.paper_only_kinds or []),
        )
