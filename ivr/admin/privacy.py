"""`flask ivr forget NUMBER`: delete what the service keeps about one caller (docs/privacy.md)."""

from __future__ import annotations

import logging

import click
from flask.cli import with_appcontext

from ivr import db
from ivr.core.phone import to_e164
from ivr.store import privacy

log = logging.getLogger("ivr.admin")
IDENTITIES = ("client:", "sip:")  # callers that are not phone numbers, matched as written


def stored_caller(text: str, country: str | None) -> str:
    """The caller as the webhooks store it (Twilio's `From`): E.164 for a phone number."""
    text = text.strip()
    if text.lower().startswith(IDENTITIES):
        return text
    if text.lower() == "anonymous" or not text:
        raise click.BadParameter("a withheld number ('anonymous') is many callers, not one",
                                 param_hint="CALLER")
    if not text.startswith("+") and not country:
        raise click.BadParameter(f"{text!r} has no country code: write it as +CC... or give "
                                 "--country (e.g. VE, CO)", param_hint="CALLER")
    try:
        return to_e164(text, (country or "ZZ").upper())
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="CALLER") from e


@click.command("forget")
@with_appcontext
@click.argument("caller_text", metavar="CALLER")
@click.option("--country", help="Country of a number written without +CC (VE, CO...).")
@click.option("--yes", is_flag=True, help="Do it without asking.")
def forget(caller_text: str, country: str | None, yes: bool) -> None:
    """Delete a caller's data: their number on cases, call notes, missed calls and messages."""
    caller = stored_caller(caller_text, country)
    if not yes:
        click.confirm(f"forget everything kept about {caller}?", abort=True)
    done = privacy.forget(db.session(), [caller])
    log.warning("forget: a caller's data removed (%d cases, %d notes, %d missed calls)",
                len(done.cases), done.notes, done.missed_calls)
    click.echo(f"{caller}: removed from {len(done.cases)} case(s)"
               + (f" ({', '.join(done.cases)})" if done.cases else "")
               + f", {done.notes} call note(s) deleted, {done.missed_calls} missed call(s) "
               "deleted with their messages and transcriptions")
    for url in done.recordings:
        click.echo(f"  recording still at Twilio, delete it there: {url}")
