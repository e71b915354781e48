"""Console accounts: passwords hashed with scrypt, roles, the login limit kept in the database."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ivr.store.console_tables import ROLES, ConsoleUser, LoginFailure

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # ~16 MiB and a few tens of ms per check
MIN_PASSWORD = 10
USERNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")


class UserError(ValueError):
    """An account that cannot be made or changed (and why)."""


def hash_password(password: str) -> str:
    """A salted scrypt hash: 'scrypt$n$r$p$salt$hash' (hex)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def check_password(stored: str, password: str) -> bool:
    """Whether `password` matches the stored hash (in constant time)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), dklen=32,
                             n=int(n), r=int(r), p=int(p))
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)


def _check_new(username: str, role: str, password: str) -> None:
    """Refuse a bad username, an unknown role or a short password."""
    if not username or len(username) > 60 or not set(username) <= USERNAME_CHARS:
        raise UserError("username: 1 to 60 of a-z, 0-9, '.', '_', '-'")
    if role not in ROLES:
        raise UserError(f"role {role!r}: use one of {', '.join(ROLES)}")
    check_password_rules(password)


def check_password_rules(password: str) -> None:
    """Refuse a password shorter than MIN_PASSWORD characters."""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password needs at least {MIN_PASSWORD} characters")


def add(db: Session, username: str, role: str, password: str, now: datetime,
        phone: str | None = None, lines: str = "") -> ConsoleUser:
    """Create an account."""
    _check_new(username, role, password)
    user = ConsoleUser(username=username, role=role, password_hash=hash_password(password),
                       phone=phone, lines=lines, session_epoch=0, created_at=now)
    db.add(user)
    try:
        db.commit()
    except IntegrityError as e:
        db.rollback()
        raise UserError(f"user {username!r} exists already") from e
    return user


def find(db: Session, username: str) -> ConsoleUser | None:
    """The account of this username, or None."""
    return db.scalars(sa.select(ConsoleUser).where(ConsoleUser.username == username)
                      ).one_or_none()


def get(db: Session, user_id: int) -> ConsoleUser | None:
    """The account of this id, or None."""
    return db.get(ConsoleUser, user_id)


def existing(db: Session, username: str) -> ConsoleUser:
    """The account of this username, or UserError."""
    user = find(db, username)
    if user is None:
        raise UserError(f"no user {username!r}")
    return user


def set_role(db: Session, username: str, role: str) -> ConsoleUser:
    """Change an account's role (its open sessions end)."""
    if role not in ROLES:
        raise UserError(f"role {role!r}: use one of {', '.join(ROLES)}")
    user = existing(db, username)
    user.role, user.session_epoch = role, user.session_epoch + 1
    db.commit()
    return user


def set_password(db: Session, username: str, password: str) -> ConsoleUser:
    """Give an account a new password (its open sessions end)."""
    check_password_rules(password)
    user = existing(db, username)
    user.password_hash, user.session_epoch = hash_password(password), user.session_epoch + 1
    db.commit()
    return user


def set_profile(db: Session, username: str, phone: str | None, lines: str) -> ConsoleUser:
    """Change an account's phone (E.164, checked by the caller) and lines."""
    user = existing(db, username)
    user.phone, user.lines = phone, lines
    db.commit()
    return user


def remove(db: Session, username: str) -> None:
    """Delete an account."""
    db.delete(existing(db, username))
    db.commit()


def listing(db: Session) -> Sequence[ConsoleUser]:
    """Every account, by username."""
    return db.scalars(sa.select(ConsoleUser).order_by(ConsoleUser.username)).all()


def count(db: Session) -> int:
    """How many accounts there are."""
    return int(db.scalar(sa.select(sa.func.count()).select_from(ConsoleUser)) or 0)


def failures_since(db: Session, key: str, since: datetime) -> int:
    """Failed logins for `key` (a username or an address) since a moment."""
    query = (sa.select(sa.func.count()).select_from(LoginFailure)
             .where(LoginFailure.key == key, LoginFailure.at > since))
    return int(db.scalar(query) or 0)


def note_failure(db: Session, keys: Sequence[str], now: datetime,
                 keep: timedelta = timedelta(days=1)) -> None:
    """Count a failed login against each key; forget failures older than `keep`."""
    db.execute(sa.delete(LoginFailure).where(LoginFailure.at < now - keep))
    db.add_all(LoginFailure(key=key[:120], at=now) for key in keys)
    db.commit()


def clear_failures(db: Session, key: str) -> None:
    """A successful login forgets that username's failures."""
    db.execute(sa.delete(LoginFailure).where(LoginFailure.key == key[:120]))
    db.commit()
