"""New passwords follow NIST SP 800-63B: long enough, not on the shipped list of common and
breached passwords (in any case), and not the user's email address or its name; a refusal
says which, and no user is written."""

from __future__ import annotations

import pytest
from sqlmodel import select

from mailbox.errors import InvalidRequest
from mailbox.identity.admin import create_user
from mailbox.identity.passwords import is_common, password_problem
from mailbox.models import User
from mailbox.operations.demo import DEMO_USERS
from mailbox.services import Services
from tests.factories import PASSWORD

EMAIL = "maria.rossi@studio-brevetti.example"


@pytest.mark.parametrize("password", ["password123", "PASSWORD123", "qwertyuiop", "1234567890"])
def test_password_common_or_breached_refused(password: str) -> None:
    assert is_common(password)
    problem = password_problem(password, email=EMAIL)
    assert problem is not None and "most common passwords" in problem


@pytest.mark.parametrize(
    ("password", "named"),
    [
        ("maria.rossi@studio-brevetti.example", "email address"),
        ("my maria.rossi@studio-brevetti.example!", "email address"),
        ("Maria.Rossi-2026", "name (maria.rossi)"),
    ],
)
def test_password_containing_the_email_refused(password: str, named: str) -> None:
    problem = password_problem(password, email=EMAIL)
    assert problem is not None and named in problem


def test_password_too_short_refused() -> None:
    assert password_problem("kq7-zr", email=EMAIL) == "must be at least 10 characters"


def test_password_that_meets_the_rule_accepted() -> None:
    assert password_problem("tram stops at the lighthouse", email=EMAIL) is None
    # The passwords the tests and the demo use still meet it.
    assert password_problem(PASSWORD, email="applicant1@example.com") is None
    for email, password in DEMO_USERS.values():
        assert password_problem(password, email=email) is None


async def test_password_common_refused_when_creating_a_user(services: Services) -> None:
    with pytest.raises(InvalidRequest) as raised:
        async with services.db.write() as session:
            await create_user(
                session=session, email=EMAIL, password="Password1234", display_name="Maria"
            )
    [error] = raised.value.errors
    assert error.field == "password" and "most common passwords" in error.message
    async with services.db.session() as session:
        assert (await session.exec(select(User).where(User.email == EMAIL))).all() == []
