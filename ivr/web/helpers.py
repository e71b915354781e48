"""What every webhook shares: Twilio's parameters, the clock, the lines, and the answer."""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Response, current_app, request, url_for
from sqlalchemy.exc import SQLAlchemyError

from ivr import db
from ivr.core.lines import Directory, Line
from ivr.core.moment import HoursOverride, Moment
from ivr.core.navigator import Plan
from ivr.core.twiml import render, render_empty, render_message
from ivr.store import overrides
from ivr.web import db_steps

log = logging.getLogger("ivr.calls")
MAX_PARAM = 256
RENDER_CACHE_SIZE = 4096  # distinct documents kept per worker (a line has a few hundred)


class FlaskUrls:
    """The webhook URLs of this app: relative (Twilio resolves them on the host it called), or
    absolute under PUBLIC_BASE_URL."""

    def menu(self, line: str, node: str, failures: int) -> str:
        """The menu's <Gather> action."""
        return _link("voice.menu", line_id=line, node_id=node, f=failures)

    def dial(self, line: str, node: str, step: int, case: str | None, started: int) -> str:
        """The <Dial> action."""
        return _link("voice.dial", line_id=line, node_id=node, s=step, n=case, t0=started)

    def screen(self, line: str, node: str, case: str | None) -> str:
        """The whisper to the person called."""
        return _link("voice.screen", line_id=line, node_id=node, n=case)

    def screen_answer(self, line: str, node: str) -> str:
        """The key the person called pressed."""
        return _link("voice.screen_answer", line_id=line, node_id=node)

    def message(self, line: str, node: str) -> str:
        """The <Record> action of a voice message."""
        return _link("voice.message", line_id=line, node_id=node)

    def message_transcribed(self, line: str, node: str) -> str:
        """The transcription callback of a voice message."""
        return _link("voice.message_transcribed", line_id=line, node_id=node)

    def queue(self, line: str, node: str) -> str:
        """The <Enqueue> action."""
        return _link("voice.queue", line_id=line, node_id=node)

    def wait(self, line: str, node: str) -> str:
        """The <Enqueue> waitUrl."""
        return _link("voice.wait", line_id=line, node_id=node)

    def audio(self, language: str, filename: str) -> str:
        """A recorded prompt, served by this app."""
        return _link("audio.prompt", language=language, filename=filename)

    def case_read(self, line: str, node: str, number: str, repeats: int) -> str:
        """After a case number was read back (the repeat key, or nothing)."""
        return _link("case_calls.read", line_id=line, node_id=node, n=number, r=repeats)

    def case_recorded(self, line: str, node: str, number: str) -> str:
        """The <Record> action for a case's description."""
        return _link("case_calls.recorded", line_id=line, node_id=node, n=number)

    def case_transcribed(self, line: str, node: str, number: str) -> str:
        """Twilio's transcription callback for a case's description."""
        return _link("case_calls.transcribed", line_id=line, node_id=node, n=number)

    def case_entry(self, line: str, node: str, failures: int) -> str:
        """The <Gather> action of a case look-up."""
        return _link("case_calls.entry", line_id=line, node_id=node, f=failures)


URLS = FlaskUrls()


def _link(endpoint: str, **values: object) -> str:
    """A path Twilio resolves against the URL it called; absolute under PUBLIC_BASE_URL."""
    path = url_for(endpoint, **values)
    base = current_app.config["PUBLIC_BASE_URL"]
    return base + path[len(request.script_root):] if base else path


def answer(line: Line, plan: Plan, at: Moment) -> Response:
    """Settle any database step of `plan`, render it, and log one line about this webhook."""
    plan = db_steps.resolve(line, plan, param("CallSid"), param("From"), at)
    log_call(line.id, plan.node, plan.outcome, [o.id for o in at.overrides])
    return twiml(_rendered(line, plan))


def _rendered(line: Line, plan: Plan) -> str:
    """The TwiML of a plan, rendered once per worker and reused: most calls take a few paths."""
    cache: dict[object, str] = current_app.extensions["ivr.render_cache"]
    key = (id(line), plan, request.script_root)
    document = cache.get(key)
    if document is None:
        if len(cache) >= RENDER_CACHE_SIZE:
            cache.clear()
        document = cache[key] = render(line, plan, URLS)
    return document


def moment(line: Line) -> Moment:
    """Now, with the line's hours overrides (read from the database every few seconds)."""
    at = now()
    return Moment(at, tuple(o for o in _overrides(line.id, at) if o.until > at))


def _overrides(line_id: str, at: datetime) -> tuple[HoursOverride, ...]:
    """The line's overrides, from a cache that lives IVR_OVERRIDE_TTL seconds per worker."""
    cache: dict[str, tuple[float, tuple[HoursOverride, ...]]] = current_app.extensions.setdefault(
        "ivr.override_cache", {})
    ttl = current_app.config["IVR_OVERRIDE_TTL"]
    monotonic: Callable[[], float] = current_app.config.get("MONOTONIC", time.monotonic)
    clock = monotonic()
    cached = cache.get(line_id)
    if cached is not None and cached[0] > clock:
        return cached[1]
    try:
        found = overrides.active(db.session(), line_id, at)
    except SQLAlchemyError as e:
        if not isinstance(e, db.DatabaseAway):
            log.warning("hours overrides unreadable (database away): schedules alone decide",
                        exc_info=True)
            db.reset()
        found = cached[1] if cached is not None else ()
    cache[line_id] = (monotonic() + ttl, found)
    return found


def for_line(view: Callable[..., Response]) -> Callable[..., Response]:
    """Give the view the line its URL names; an unknown line gets the polite message."""

    @functools.wraps(view)
    def wrapped(line_id: str, **kwargs: Any) -> Response:
        """Find the line, then run the view."""
        line = directory().get(line_id)
        if line is None:
            return unknown_line()
        return view(line, **kwargs)

    return wrapped


def unknown_line() -> Response:
    """A number (or URL) no line claims: a short polite message, then goodbye."""
    return message("linea_desconocida", "unknown-line")


def apology(outcome: str) -> Response:
    """Something failed inside the service: apologise and end the call cleanly."""
    return message("error_tecnico", outcome)


def message(prompt_id: str, outcome: str) -> Response:
    """Say one service prompt in the voice of the default (or first) line, then hang up."""
    log_call(None, None, outcome)
    line = any_line()
    if line is None:  # no menu loaded at all (only under an admin command): end the call
        return twiml(render_empty())
    prompt = line.prompt(prompt_id)
    return twiml(render_message(prompt.text, line.spec.voice, line.spec.say_language))


def any_line() -> Line | None:
    """The default line, else the first loaded one (for messages that belong to no line)."""
    lines = directory()
    default = lines.get(lines.default_line or "")
    return default or next(iter(lines.lines.values()), None)


def log_call(
    line: str | None, node: str | None, outcome: str, overrides: list[int] | None = None
) -> None:
    """One structured line per webhook: call, line, node, outcome (and overrides in force)."""
    record: dict[str, object] = {
        "event": "webhook",
        "path": request.path[:MAX_PARAM],
        "call": param("CallSid"),
        "line": line,
        "node": node,
        "outcome": outcome,
    }
    if overrides:
        record["overrides"] = overrides
    if log.isEnabledFor(logging.INFO):
        # makeRecord + handle: the same record as log.info, without walking the stack to
        # find the caller's file and line, which no one reads in a call log.
        log.handle(log.makeRecord(log.name, logging.INFO, "", 0,
                                  json.dumps(record, ensure_ascii=False), None, None))


def twiml(document: str) -> Response:
    """A 200 response carrying a TwiML document."""
    return Response(document, status=200, mimetype="text/xml")


def param(name: str) -> str | None:
    """A Twilio parameter, cut to a sane length (garbage is the navigator's to judge)."""
    value = (request.form if request.method == "POST" else request.args).get(name)
    return value[:MAX_PARAM] if value is not None else None


def directory() -> Directory:
    """The loaded lines."""
    lines: Directory = current_app.extensions["ivr.lines"]
    return lines


def now() -> datetime:
    """The current time from the app's clock (the system clock unless a test injects one)."""
    moment: datetime = current_app.config["CLOCK"]()
    return moment
