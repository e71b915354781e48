"""`flask ivr users add|role|reset|remove|list`: console accounts from the terminal.

Without a terminal on standard input the password is read from it (one line, or the same
line twice), like `passwd --stdin`; at a terminal it is asked for twice, hidden.
"""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from ivr import db
from ivr.admin.cli import ivr_group, now
from ivr.store import audit, users
from ivr.store.console_tables import ROLES

users_cli = AppGroup("users", help="Console accounts: analysts, supervisors, admins.")
ACTOR = "cli"


def init_app(app: Flask) -> None:
    """Register `flask ivr users`."""
    ivr_group(app).add_command(users_cli)


def read_password() -> str:
    """The new password: from standard input when it is not a terminal, else asked twice."""
    if sys.stdin.isatty():
        password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    given = [line.rstrip("\r\n") for line in sys.stdin.read().splitlines()][:2]
    if not given or not given[0]:
        raise click.ClickException("no password on standard input")
    if len(given) == 2 and given[1] and given[1] != given[0]:
        raise click.ClickException("the two passwords on standard input differ")
    return given[0]


@users_cli.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--phone", help="The phone the console rings first (E.164, +57...).")
@click.option("--lines", default="", help="Comma-separated line ids (default: every line).")
def users_add(username: str, role: str, phone: str | None, lines: str) -> None:
    """Create an account."""
    try:
        user = users.add(db.session(), username.lower(), role, read_password(), now(),
                         phone=phone, lines=lines.replace(" ", ""))
    except users.UserError as e:
        raise click.ClickException(str(e)) from e
    audit.record(db.session(), actor=ACTOR, action="user.add", target=f"user:{user.username}",
                 before=None, after={"role": role, "phone": phone, "lines": user.lines},
                 now=now())
    click.echo(f"user {user.username} ({user.role}) created")


@users_cli.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
def users_role(username: str, role: str) -> None:
    """Change an account's role (its sessions end)."""
    try:
        before = users.existing(db.session(), username).role
        users.set_role(db.session(), username, role)
    except users.UserError as e:
        raise click.ClickException(str(e)) from e
    audit.record(db.session(), actor=ACTOR, action="user.role", target=f"user:{username}",
                 before={"role": before}, after={"role": role}, now=now())
    click.echo(f"user {username}: {role}")


@users_cli.command("reset")
@click.argument("username")
def users_reset(username: str) -> None:
    """Give an account a new password (its sessions end)."""
    try:
        users.set_password(db.session(), username, read_password())
    except users.UserError as e:
        raise click.ClickException(str(e)) from e
    audit.record(db.session(), actor=ACTOR, action="user.reset", target=f"user:{username}",
                 before=None, after={"password": "(changed)"}, now=now())
    click.echo(f"user {username}: password changed")


@users_cli.command("remove")
@click.argument("username")
def users_remove(username: str) -> None:
    """Delete an account."""
    try:
        before = users.existing(db.session(), username).role
        users.remove(db.session(), username)
    except users.UserError as e:
        raise click.ClickException(str(e)) from e
    audit.record(db.session(), actor=ACTOR, action="user.remove", target=f"user:{username}",
                 before={"role": before}, after=None, now=now())
    click.echo(f"user {username} removed")


@users_cli.command("list")
def users_list() -> None:
    """Every account and its role."""
    for user in users.listing(db.session()):
        click.echo(f"{user.username:<24} {user.role:<11} {user.phone or '-':<16} "
                   f"{user.lines or '(all lines)'}")
