"""A recipient without an account: the postal address an office gives in a dispatch, checked
field by field, and the postal-only addressee it is delivered to.

Such a dispatch is stored like any other: one document to one :class:`Account`. The account
is a *postal-only addressee*: no users, no consent, ``postal_only_office_id`` naming the office
it was made for, so the paper rule sends everything for it on paper. The same address from
the same office (compared after trimming, collapsing white space and ignoring case) finds the
same addressee again through ``postal_key``, so an office's dispatches to one person stay
together; another office giving the same address gets its own addressee, so one office's
dispatches never show up in another's.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from iso3166 import countries_by_alpha2
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from mailbox.errors import FieldError, InvalidRequest
from mailbox.models import Account

__all__ = [
    "FIELD",
    "MAX_LINES",
    "POSTAL_CODE",
    "PostalAddress",
    "find_addressee",
    "parse_postal_address",
    "postal_addressee",
]

FIELD = "recipient_postal_address"
MAX_LINES = 4
NAME_MAX = 200
LINE_MAX = 100
CITY_MAX = 100
POSTAL_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{0,15}$")
_KEYS = ("name", "lines", "postal_code", "city", "country")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class PostalAddress:
    """A postal address as an office gives it: the addressee's name, 1-4 street lines, the
    postal code (empty where the country has none), the city and the ISO 3166-1 alpha-2
    country code."""

    name: str
    lines: tuple[str, ...]
    postal_code: str
    city: str
    country: str

    def fields(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "lines": list(self.lines),
            "postal_code": self.postal_code,
            "city": self.city,
            "country": self.country,
        }

    def text(self) -> str:
        """The address as it is written on an envelope, one line each."""
        town = f"{self.postal_code} {self.city}".strip()
        country = countries_by_alpha2[self.country].name.upper()
        return "\n".join([self.name, *self.lines, town, country])

    def key(self, office_id: str) -> str:
        """What finds this addressee again for the same office."""
        normal = [office_id, *(_SPACES.sub(" ", v).strip().casefold() for v in self._values())]
        return hashlib.sha256("\x1f".join(normal).encode()).hexdigest()

    def _values(self) -> list[str]:
        return [self.name, *self.lines, self.postal_code, self.city, self.country]


def _text(value: Any, field: str, limit: int, errors: list[FieldError], *, required: bool) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        errors.append(FieldError(field, "must be text"))
        return ""
    value = _SPACES.sub(" ", value).strip()
    if required and not value:
        errors.append(FieldError(field, "is required"))
    elif len(value) > limit:
        errors.append(FieldError(field, f"must be at most {limit} characters"))
    return value


def parse_postal_address(raw: str | Mapping[str, Any]) -> PostalAddress:
    """``raw`` (a JSON object, or its text as a form field carries it) as a
    :class:`PostalAddress`, or :class:`InvalidRequest` naming every bad field
    (``recipient_postal_address.name``, ``recipient_postal_address.lines[1]`` ...)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raw = None
    if not isinstance(raw, Mapping):
        raise InvalidRequest(
            "The postal address is not a JSON object",
            errors=[
                FieldError(FIELD, "must be a JSON object: name, lines, postal_code, city, country")
            ],
        )
    errors: list[FieldError] = [
        FieldError(f"{FIELD}.{k}", "is not a field of a postal address")
        for k in sorted(set(raw) - set(_KEYS))
    ]
    name = _text(raw.get("name"), f"{FIELD}.name", NAME_MAX, errors, required=True)
    lines: list[str] = []
    given = raw.get("lines")
    if not isinstance(given, list) or not 1 <= len(given) <= MAX_LINES:
        errors.append(FieldError(f"{FIELD}.lines", f"must be a list of 1-{MAX_LINES} lines"))
    else:
        for n, line in enumerate(given):
            lines.append(_text(line, f"{FIELD}.lines[{n}]", LINE_MAX, errors, required=True))
    postal_code = _text(raw.get("postal_code"), f"{FIELD}.postal_code", 16, errors, required=False)
    if postal_code and not POSTAL_CODE.match(postal_code):
        errors.append(FieldError(f"{FIELD}.postal_code", "1-16 letters, digits, spaces or '-'"))
    city = _text(raw.get("city"), f"{FIELD}.city", CITY_MAX, errors, required=True)
    country = raw.get("country")
    if not isinstance(country, str) or country.upper() not in countries_by_alpha2:
        errors.append(FieldError(f"{FIELD}.country", "must be an ISO 3166-1 alpha-2 code, e.g. DE"))
        country = ""
    if errors:
        raise InvalidRequest("The recipient's postal address is invalid", errors=errors)
    return PostalAddress(name, tuple(lines), postal_code, city, country.upper())


async def find_addressee(
    *, session: AsyncSession, office_id: str, address: PostalAddress
) -> Account | None:
    """The postal-only addressee ``office_id`` made for ``address`` before, if any."""
    key = address.key(office_id)
    return (await session.exec(select(Account).where(Account.postal_key == key))).first()


async def postal_addressee(
    *, session: AsyncSession, office_id: str, address: PostalAddress
) -> Account:
    """The postal-only addressee of ``address`` for ``office_id``: the one made before, or a
    new one (in a savepoint, so that a concurrent dispatch that made it first wins and its
    row is used)."""
    found = await find_addressee(session=session, office_id=office_id, address=address)
    if found is not None:
        return found
    account = Account(
        name=address.name,
        postal_address=address.text(),
        postal_only_office_id=office_id,
        postal_key=address.key(office_id),
        postal_address_fields=address.fields(),
    )
    try:
        async with session.begin_nested():
            session.add(account)
    except IntegrityError:
        found = await find_addressee(session=session, office_id=office_id, address=address)
        if found is None:
            raise
        return found
    return account
