"""Who is logged in, what their role allows, and the login limit (counted in the database)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import abort, current_app, g, redirect, request, session, url_for

from ivr import db
from ivr.store import users
from ivr.store.console_tables import ConsoleUser
from ivr.web.helpers import now

RANK = {"analyst": 1, "supervisor": 2, "admin": 3}
LOGIN_WINDOW = timedelta(minutes=15)
ADDRESS_FACTOR = 5  # an address may fail this many times more than one username


def current_user() -> ConsoleUser | None:
    """The logged-in account, read from the database on every request.

    So roles take effect at once, and a reset password ends old sessions.
    """
    if "console_user" not in g:
        user = None
        uid = session.get("uid")
        if isinstance(uid, int):
            user = users.get(db.session(), uid)
            if user is not None and session.get("epoch") != user.session_epoch:
                user = None
        g.console_user = user
    found: ConsoleUser | None = g.console_user
    return found


def log_in(user: ConsoleUser) -> None:
    """Start a fresh session for `user`."""
    session.clear()
    session.permanent = True
    session["uid"], session["epoch"] = user.id, user.session_epoch
    g.console_user = user


def log_out() -> None:
    """End the session."""
    session.clear()
    g.console_user = None


def allows(user: ConsoleUser | None, role: str) -> bool:
    """Whether `user`'s role is `role` or above (admin > supervisor > analyst)."""
    return user is not None and RANK.get(user.role, 0) >= RANK[role]


def may_see_line(user: ConsoleUser, line: str) -> bool:
    """Whether the account works on `line` (no list of lines: every line)."""
    lines = [part.strip() for part in (user.lines or "").split(",") if part.strip()]
    return not lines or line in lines


def requires(role: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A view for `role` and above: the login form for strangers, 403 for lower roles."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap the view with the check."""

        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            """Check the session and the role, then run the view."""
            user = current_user()
            if user is None:
                return redirect(url_for("console.login", next=request.full_path))
            if not allows(user, role):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorate


def me() -> ConsoleUser:
    """The logged-in account (inside a view guarded by `requires`)."""
    user = current_user()
    assert user is not None
    return user


def login_keys(username: str) -> tuple[str, str]:
    """The two counters a login attempt is checked against: its username and its address."""
    return f"user:{username.lower()[:60]}", f"addr:{request.remote_addr or '-'}"


def locked_out(username: str) -> bool:
    """Whether too many logins failed lately for this username or from this address."""
    limit = int(current_app.config.get("CONSOLE_LOGIN_LIMIT", 5))
    since = now() - LOGIN_WINDOW
    by_user, by_address = login_keys(username)
    return (users.failures_since(db.session(), by_user, since) >= limit
            or users.failures_since(db.session(), by_address, since) >= limit * ADDRESS_FACTOR)


def check_login(username: str, password: str) -> ConsoleUser | None:
    """The account if the password is right; a failure is counted (in the database)."""
    user = users.find(db.session(), username)
    if user is not None and users.check_password(user.password_hash, password):
        users.clear_failures(db.session(), login_keys(username)[0])
        return user
    if user is None:
        users.check_password(users.hash_password("x" * 10), password)  # same time either way
    users.note_failure(db.session(), login_keys(username), now())
    return None
