"""Analysts who log in by phone: a keypad code and a PIN kept as a scrypt hash.

Lockout after too many wrong PINs is kept in the database, so every worker and machine sees it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ivr.store.tables import Analyst

# scrypt's cost: about 50 ms per login on a small machine, far too slow to try 10^6 PINs
_N, _R, _P, _SALT = 2**14, 8, 1, 16


class AnalystError(ValueError):
    """An admin asked for something about analysts that cannot be done."""


@dataclass(frozen=True)
class Login:
    """The outcome of a login: the analyst (when it succeeded), or why not."""

    analyst_id: int | None
    outcome: str  # ok, wrong, locked
    locked_until: datetime | None = None


def hash_pin(pin: str) -> str:
    """A salted scrypt hash of a PIN, with its parameters."""
    salt = secrets.token_bytes(_SALT)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=_N, r=_R, p=_P)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def pin_matches(pin: str, stored: str) -> bool:
    """Whether `pin` is the PIN hashed in `stored` (compared in constant time)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        actual = hashlib.scrypt(pin.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                                p=int(p))
    except ValueError:
        return False
    return kind == "scrypt" and hmac.compare_digest(actual.hex(), digest)


def check_pin(text: str) -> str:
    """A PIN must be 4 to 8 digits."""
    if not (text.isascii() and text.isdigit() and 4 <= len(text) <= 8):
        raise AnalystError("a PIN is 4 to 8 digits")
    return text


def add(db: Session, *, line: str, code: str, pin: str, name: str | None, now: datetime) -> Analyst:
    """A new analyst of `line`."""
    if not (code.isascii() and code.isdigit() and 2 <= len(code) <= 8):
        raise AnalystError("an analyst code is 2 to 8 digits")
    if _find(db, line, code) is not None:
        raise AnalystError(f"analyst {code} already exists on line {line}")
    row = Analyst(line=line, code=code, name=name, pin_hash=hash_pin(check_pin(pin)),
                  failures=0, created_at=now)
    db.add(row)
    db.commit()
    return row


def reset(db: Session, *, line: str, code: str, pin: str) -> Analyst:
    """A new PIN (and the lockout lifted)."""
    row = _found(db, line, code)
    row.pin_hash, row.failures, row.locked_until = hash_pin(check_pin(pin)), 0, None
    db.commit()
    return row


def remove(db: Session, *, line: str, code: str) -> None:
    """Remove an analyst."""
    db.delete(_found(db, line, code))
    db.commit()


def listing(db: Session, line: str | None = None) -> Sequence[Analyst]:
    """The analysts, by line and code."""
    query = sa.select(Analyst).order_by(Analyst.line, Analyst.code)
    return db.scalars(query.where(Analyst.line == line) if line else query).all()


def login(
    db: Session, *, line: str, code: str, pin: str, now: datetime, max_failures: int,
    lockout: timedelta,
) -> Login:
    """Check a code and PIN typed on the phone; `max_failures` wrong PINs lock the code."""
    row = _find(db, line, code)
    if row is None:
        return Login(None, "wrong")
    if row.locked_until is not None and row.locked_until > now:
        return Login(None, "locked", row.locked_until)
    if pin_matches(pin, row.pin_hash):
        row.failures, row.locked_until = 0, None
        db.commit()
        return Login(row.id, "ok")
    row.failures += 1
    if row.failures >= max_failures:
        row.failures, row.locked_until = 0, now + lockout
        db.commit()
        return Login(None, "locked", row.locked_until)
    db.commit()
    return Login(None, "wrong")


def get(db: Session, analyst_id: int) -> Analyst | None:
    """One analyst by id."""
    return db.get(Analyst, analyst_id)


def _find(db: Session, line: str, code: str) -> Analyst | None:
    """The analyst with this code on this line."""
    return db.scalars(sa.select(Analyst).where(Analyst.line == line, Analyst.code == code[:12])
                      ).one_or_none()


def _found(db: Session, line: str, code: str) -> Analyst:
    """The analyst, or an error naming it."""
    row = _find(db, line, code)
    if row is None:
        raise AnalystError(f"no analyst {code} on line {line}")
    return row
