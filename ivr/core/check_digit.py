"""Case numbers made for keypads: digits only, with a Damm check digit.

Damm's check digit (H. Michael Damm, 2004) catches every single-digit typo and every swap of two
adjacent digits, like Verhoeff's, with one 10x10 table and no special cases; Luhn misses the
09 <-> 90 swap. A number whose check digit is wrong is refused before any database is asked.
"""

from __future__ import annotations

import secrets

# The weakly totally anti-symmetric quasigroup of order 10 from Damm's thesis.
_TABLE = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def damm_digit(digits: str) -> str:
    """The Damm check digit of a string of digits."""
    interim = 0
    for ch in digits:
        interim = _TABLE[interim][int(ch)]
    return str(interim)


def is_valid(number: str, length: int) -> bool:
    """Whether `number` has `length` digits, no leading zero, and a correct check digit."""
    return (
        len(number) == length
        and number.isascii()
        and number.isdigit()
        and number[0] != "0"
        and damm_digit(number) == "0"
    )


def new_number(length: int) -> str:
    """A random case number of `length` digits (the last one the check digit)."""
    if not 2 <= length <= 18:
        raise ValueError(f"case numbers of {length!r} digits: use 7 to 9")
    body = str(secrets.randbelow(9 * 10 ** (length - 2)) + 10 ** (length - 2))
    return body + damm_digit(body)
