"""Request and response schemas of the certified outages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

from msgspec import Meta, Struct, field

from mailbox.api.schemas.rules import Rules
from mailbox.deliveries.outages import MAX_AFFECTED, MAX_LENGTH
from mailbox.errors import FieldError, InvalidRequest
from mailbox.models import Outage
from mailbox.timefmt import rfc3339

__all__ = ["OutageCreate", "OutagePublic", "OutagesPublic"]


class OutageCreate(Struct, kw_only=True, forbid_unknown_fields=True):
    """An outage of one office's part of the service, recorded by its dispatcher."""

    office_id: Annotated[str, Meta(examples=["off_01JDQ8Z6W8X4M2N7P3R5T9V0AB"])] = ""
    starts_at: Annotated[str, Meta(examples=["2026-12-05T22:00:00+01:00"])] = field(
        name="from", default=""
    )
    ends_at: Annotated[str, Meta(examples=["2026-12-06T03:00:00+01:00"])] = field(
        name="to", default=""
    )
    affected: Annotated[str, Meta(examples=["Dispatch and pickup: the mailbox did not answer"])] = (
        ""
    )

    __rules__: ClassVar[Rules] = Rules(
        closed=True,
        required=("office_id", "from", "to", "affected"),
        fields={
            "office_id": {"max_length": 64, "description": "The office whose part failed."},
            "from": {
                "format": "date-time",
                "description": "When it began (RFC 3339, with its offset).",
            },
            "to": {
                "format": "date-time",
                "description": f"When it ended: after `from`, not in the future, at most "
                f"{MAX_LENGTH.days} days after `from`.",
            },
            "affected": {
                "max_length": MAX_AFFECTED,
                "min_length": 1,
                "description": "What did not work.",
            },
        },
    )

    def period(self) -> tuple[datetime, datetime]:
        """``from`` and ``to`` as aware times; :class:`InvalidRequest` naming each bad one."""
        errors, times = [], []
        if not self.office_id.strip():
            errors.append(FieldError("office_id", "required"))
        for name, text in (("from", self.starts_at), ("to", self.ends_at)):
            try:
                moment = datetime.fromisoformat(text)
                if moment.tzinfo is None:
                    raise ValueError(text)
                times.append(moment)
            except ValueError:
                errors.append(FieldError(name, "an RFC 3339 time with its offset"))
        if len(self.affected) > MAX_AFFECTED or not self.affected.strip():
            errors.append(FieldError("affected", f"1-{MAX_AFFECTED} characters"))
        if errors:
            raise InvalidRequest("The outage cannot be certified as given", errors=errors)
        return times[0], times[1]


class OutagePublic(Struct, kw_only=True):
    """A certified outage; its certificate is at `certificate_url` (JSON, or `?format=pdf`)."""

    id: str
    scope: Annotated[str, Meta(examples=["office"], description="`service` or `office`.")]
    office: str | None  # the office's code, for an office's outage
    starts_at: str = field(name="from")
    ends_at: str = field(name="to")
    affected: str
    recorded_at: str
    certificate_sha256: str
    certificate_url: str
    deliveries_touched: int

    @classmethod
    def of(cls, outage: Outage, office_code: str | None) -> OutagePublic:
        return cls(
            id=outage.id,
            scope="office" if office_code else "service",
            office=office_code,
            starts_at=rfc3339(outage.starts_at),
            ends_at=rfc3339(outage.ends_at),
            affected=outage.affected,
            recorded_at=rfc3339(outage.recorded_at),
            certificate_sha256=outage.certificate_sha256,
            certificate_url=f"/api/v1/outages/{outage.id}/certificate",
            deliveries_touched=outage.deliveries_touched,
        )


class OutagesPublic(Struct, kw_only=True):
    items: list[OutagePublic]
    next_cursor: str | None
