"""The rule a new password must meet (NIST SP 800-63B, 5.1.1.2): at least
:data:`MIN_PASSWORD` characters, not one of the common and breached passwords of the list that
ships with the service, and not the user's email address or its local part.

The list (``common-passwords.txt.gz``: 19,640 passwords, lowercased and deduplicated) is Royce
Williams' list of the most common breached passwords, as Django distributes it under the BSD
licence. It is read once, on first use, and compared in lower case: ``Password123`` is as
guessable as ``password123``. Users are not asked for digits or symbols, which NIST advises
against.
"""

from __future__ import annotations

import gzip
from functools import cache
from pathlib import Path

from mailbox.errors import FieldError, InvalidRequest

__all__ = ["MIN_PASSWORD", "check_new_password", "is_common", "password_problem"]

MIN_PASSWORD = 10
# Longer ones are refused before hashing: nobody types them, and hashing has a cost.
MAX_PASSWORD = 1000
# A local part this short ("jo@...") would forbid too many passwords for too little gain.
_MIN_LOCAL_PART = 3
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common-passwords.txt.gz")


@cache
def _common() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def is_common(password: str) -> bool:
    """True when ``password`` (in any case) is on the shipped list of breached passwords."""
    return password.strip().lower() in _common()


def password_problem(password: str, *, email: str) -> str | None:
    """Why ``password`` may not be the password of the user with ``email``, in words for that
    user, or None when it may."""
    if len(password) < MIN_PASSWORD:
        return f"must be at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"must be at most {MAX_PASSWORD} characters"
    if is_common(password):
        return (
            "is one of the most common passwords, found in lists of breached passwords; "
            "choose another"
        )
    typed = password.lower()
    email = email.strip().lower()
    local_part = email.partition("@")[0]
    if email and email in typed:
        return "must not contain your email address"
    if len(local_part) >= _MIN_LOCAL_PART and local_part in typed:
        return f"must not contain your email address's name ({local_part})"
    return None


def check_new_password(password: str, *, email: str, field: str = "password") -> None:
    """Raise :class:`InvalidRequest` naming the reason when :func:`password_problem` finds one."""
    problem = password_problem(password, email=email)
    if problem is not None:
        raise InvalidRequest(f"The new password {problem}", errors=[FieldError(field, problem)])
