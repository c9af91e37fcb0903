"""Retention: how long a delivery's content and evidence are kept, per office and document kind.

A delivery's content is kept ``document_days`` after its legal state became final (the pickup,
the deemed delivery, or paper posted or returned: :func:`final_since`); then the purge job
(:mod:`mailbox.deliveries.purge`) removes it. Its evidence is kept at least ``evidence_days``.
Each value comes from the most specific place that sets it: the office's row for that document
kind, the office's row for every kind (:data:`~mailbox.models.ANY_KIND`), the service's settings
(``MAILBOX_RETENTION_DOCUMENT_DAYS``, ``MAILBOX_RETENTION_EVIDENCE_DAYS``).

Pure rules first (:func:`final_since`, :func:`resolve`, :func:`removed_notice`), then the
read and write functions of the per-office rows (``session`` keyword-only, never committing).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.clock import now
from mailbox.config import Settings
from mailbox.errors import FieldError, InvalidRequest, NotFound
from mailbox.models import ANY_KIND, Delivery, DeliveryStatus, Office, RetentionPolicy
from mailbox.timefmt import human, rfc3339

__all__ = [
    "MAX_DAYS",
    "Retention",
    "RetentionRow",
    "clear_policy",
    "final_since",
    "list_policies",
    "load_policies",
    "purge_details",
    "purge_reason",
    "removed_notice",
    "resolve",
    "set_policy",
]

MAX_DAYS = 36500  # a hundred years
_KIND_CODE = re.compile(r"^[A-Za-z0-9._-]{1,32}$")  # as a dispatch's kind_code
S = DeliveryStatus
# The event that made each final state final, in the words of the evidence.
_FINAL_EVENT = {
    S.PICKED_UP: "pickup",
    S.DEEMED_DELIVERED: "deemed delivery",
    S.PAPER_POSTED: "paper posting",
    S.PAPER_RETURNED: "paper return",
}

Policies = Mapping[tuple[str, str], RetentionPolicy]  # by (office_id, kind_code)


@dataclass(frozen=True)
class Retention:
    """The retention that applies to one office's documents of one kind, and where each value
    comes from (``"office EP, kind R71"``, ``"office EP"`` or ``"default"``)."""

    document_days: int
    evidence_days: int
    document_source: str
    evidence_source: str


def final_since(delivery: Delivery) -> tuple[datetime, str] | None:
    """When the delivery's legal state became final, and by which event (``"pickup"``,
    ``"deemed delivery"``, ``"paper posting"``, ``"paper return"``); ``None`` while it is not
    final (still available, queued for paper, rejected)."""
    status = S(delivery.status)
    at = {
        S.PICKED_UP: delivery.picked_up_at,
        S.DEEMED_DELIVERED: delivery.deemed_delivered_at,
        S.PAPER_POSTED: delivery.paper_posted_at,
        S.PAPER_RETURNED: delivery.paper_returned_at or delivery.paper_posted_at,
    }.get(status)
    return (at, _FINAL_EVENT[status]) if at is not None else None


def resolve(
    policies: Policies, settings: Settings, *, office_id: str, office_code: str, kind_code: str
) -> Retention:
    """The retention of ``office_id``'s documents of ``kind_code``: each value from the kind's
    row, else the office-wide row, else the settings."""
    rows = [
        (policies.get((office_id, kind_code)), f"office {office_code}, kind {kind_code}"),
        (policies.get((office_id, ANY_KIND)), f"office {office_code}"),
    ]

    def pick(field: str, default: int) -> tuple[int, str]:
        for row, source in rows:
            value = getattr(row, field) if row is not None else None
            if value is not None:
                return value, source
        return default, "default"

    documents, documents_from = pick("document_days", settings.retention_document_days)
    evidence, evidence_from = pick("evidence_days", settings.retention_evidence_days)
    return Retention(documents, evidence, documents_from, evidence_from)


def purge_reason(retention: Retention, since: datetime, event: str) -> str:
    """Why a content is removed, in the words the recipient reads."""
    return (
        f"its retention period ended: content is kept {retention.document_days} days after "
        f"the {event} ({retention.document_source}), which was on {human(since)}"
    )


def purge_details(retention: Retention, since: datetime, event: str) -> dict[str, object]:
    """The ContentPurged record's details (besides the reason)."""
    return {
        "retention_days": retention.document_days,
        "retention_source": retention.document_source,
        "final_event": event,
        "final_at": rfc3339(since),
        "evidence_kept_until": rfc3339(since + timedelta(days=retention.evidence_days)),
    }


def removed_notice(delivery: Delivery) -> str | None:
    """``"Removed on <date>: <why>."`` for a delivery whose content was purged, else ``None``."""
    if delivery.content_purged_at is None:
        return None
    why = delivery.content_purge_reason or "its retention period ended"
    return f"Removed on {human(delivery.content_purged_at)}: {why}."


# --- the per-office rows -------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionRow:
    """One stored row with the office's code and what then applies to that kind."""

    policy: RetentionPolicy
    office_code: str
    effective: Retention


async def load_policies(*, session: AsyncSession) -> dict[tuple[str, str], RetentionPolicy]:
    """Every stored row, by (office id, kind code)."""
    rows = (await session.exec(select(RetentionPolicy))).all()
    return {(row.office_id, row.kind_code): row for row in rows}


async def _office(session: AsyncSession, office: str) -> Office:
    found = (
        await session.exec(select(Office).where(or_(Office.id == office, Office.code == office)))
    ).first()
    if found is None:
        raise NotFound(f"No office {office!r} (give its code or id)")
    return found


def _check_days(field: str, value: int | None, errors: list[FieldError]) -> None:
    if value is not None and not 1 <= value <= MAX_DAYS:
        errors.append(FieldError(field, f"must be 1..{MAX_DAYS} days"))


async def set_policy(
    *,
    session: AsyncSession,
    settings: Settings,
    office: str,
    kind_code: str | None,
    document_days: int | None,
    evidence_days: int | None,
) -> RetentionRow:
    """Set how long ``office``'s (code or id) documents of ``kind_code`` (``None``: every kind
    without a row of its own) are kept, and their evidence; a value not given keeps the row's
    (or, for a new row, falls back to the office-wide row or the default). Refused, with
    nothing changed, if a value is out of range or if any kind of the office would keep its
    evidence less long than its content."""
    kind = kind_code if kind_code is not None else ANY_KIND
    errors: list[FieldError] = []
    if kind != ANY_KIND and not _KIND_CODE.match(kind):
        errors.append(FieldError("kind", "1-32 letters, digits, '.', '_' or '-'"))
    if document_days is None and evidence_days is None:
        errors.append(FieldError("documents_days", "give documents days, evidence days or both"))
    _check_days("documents_days", document_days, errors)
    _check_days("evidence_days", evidence_days, errors)
    if errors:
        raise InvalidRequest("Invalid retention period", errors=errors)
    found = await _office(session, office)
    policies = await load_policies(session=session)
    row = policies.get((found.id, kind)) or RetentionPolicy(office_id=found.id, kind_code=kind)
    if document_days is not None:
        row.document_days = document_days
    if evidence_days is not None:
        row.evidence_days = evidence_days
    row.updated_at = now()
    policies = {**policies, (found.id, kind): row}
    for other_office, other_kind in policies:
        if other_office != found.id:
            continue
        effective = resolve(
            policies, settings, office_id=found.id, office_code=found.code, kind_code=other_kind
        )
        if effective.evidence_days < effective.document_days:
            what = "every kind" if other_kind == ANY_KIND else f"kind {other_kind}"
            raise InvalidRequest(
                f"Evidence would be kept less long than content for {what} of office "
                f"{found.code} ({effective.evidence_days} < {effective.document_days} days)",
                errors=[FieldError("evidence_days", "must not be less than documents_days")],
            )
    session.add(row)
    await session.flush()
    return RetentionRow(
        row,
        found.code,
        resolve(policies, settings, office_id=found.id, office_code=found.code, kind_code=kind),
    )


async def clear_policy(*, session: AsyncSession, office: str, kind_code: str | None) -> None:
    """Remove ``office``'s row for ``kind_code`` (``None``: the office-wide row), so that the
    next more general value applies; :class:`NotFound` if there is none."""
    found = await _office(session, office)
    kind = kind_code if kind_code is not None else ANY_KIND
    row = (
        await session.exec(
            select(RetentionPolicy)
            .where(RetentionPolicy.office_id == found.id)
            .where(RetentionPolicy.kind_code == kind)
        )
    ).first()
    if row is None:
        what = "every kind" if kind == ANY_KIND else f"kind {kind}"
        raise NotFound(f"Office {found.code} has no retention period of its own for {what}")
    await session.delete(row)
    await session.flush()


async def list_policies(
    *, session: AsyncSession, settings: Settings, office: str | None = None
) -> list[RetentionRow]:
    """The stored rows (of ``office`` only, if given), by office code and kind, each with what
    then applies."""
    policies = await load_policies(session=session)
    offices: Iterable[Office]
    if office is not None:
        offices = [await _office(session, office)]
    else:
        ids = {office_id for office_id, _ in policies}
        offices = (await session.exec(select(Office).where(col(Office.id).in_(ids)))).all()
    codes = {o.id: o.code for o in offices}
    rows = [
        RetentionRow(
            row,
            codes[office_id],
            resolve(
                policies,
                settings,
                office_id=office_id,
                office_code=codes[office_id],
                kind_code=kind,
            ),
        )
        for (office_id, kind), row in policies.items()
        if office_id in codes
    ]
    return sorted(
        rows, key=lambda r: (r.office_code, r.policy.kind_code != ANY_KIND, r.policy.kind_code)
    )
