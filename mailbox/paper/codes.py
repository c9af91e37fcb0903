"""Retrieval codes: what a paper letter prints so that its recipient can open the electronic
copy. 80 random bits as 16 Crockford base-32 characters and one check character (Luhn mod 32,
which catches every single mistyped character and every swap of two neighbours), printed as
``XXXX-XXXX-XXXX-XXXX-C``. Only the SHA-256 of the normalised code is stored."""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["CODE_BITS", "code_hash", "format_code", "new_code", "normalise_code"]

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
CODE_BITS = 80
_BODY = CODE_BITS // 5  # 16 characters of 5 bits
# What people type for what they see (Crockford's decoding rules), and separators to ignore.
_READS_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_IGNORED = str.maketrans("", "", " -_.\t")


def _check_character(body: str) -> str:
    """Luhn mod 32 over ``body`` (valid characters of :data:`ALPHABET`)."""
    factor, total = 2, 0
    for char in reversed(body):
        addend = factor * ALPHABET.index(char)
        total += addend // 32 + addend % 32
        factor = 1 if factor == 2 else 2
    return ALPHABET[(32 - total % 32) % 32]


def new_code() -> str:
    """A fresh code, normalised (17 characters, no separators)."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(_BODY))
    return body + _check_character(body)


def format_code(code: str) -> str:
    """``code`` as printed: groups of four and the check character, joined by hyphens."""
    return "-".join(code[i : i + 4] for i in range(0, _BODY, 4)) + "-" + code[_BODY:]


def normalise_code(typed: str) -> str | None:
    """The code someone typed, normalised (case, separators, O/I/L), or ``None`` when it is
    not a well-formed code (wrong length, a character outside the alphabet, or a check
    character that does not match: a typing mistake)."""
    code = typed.upper().translate(_IGNORED).translate(_READS_AS)
    if len(code) != _BODY + 1 or not set(code) <= set(ALPHABET):
        return None
    if _check_character(code[:_BODY]) != code[_BODY]:
        return None
    return code


def code_hash(code: str) -> str:
    """What is stored of a normalised code: its SHA-256 (80 random bits need no slow hash)."""
    return hashlib.sha256(code.encode()).hexdigest()
