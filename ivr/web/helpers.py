"""What every webhook shares: Twilio's parameters, the clock, the lines, and the answer."""

from __future__ import annotations

import functools
import json
import logging
import re
import urllib.parse
from collections.abc import Callable
from datetime import datetime
from typing import Any

from blinker import Namespace
from flask import Flask, Response, current_app, request
from werkzeug.routing import MapAdapter

from ivr import db
from ivr.core import case_flow, check_digit
from ivr.core.lines import Line
from ivr.core.moment import HoursOverride, Moment, OnCallOverride
from ivr.core.navigator import Plan, ReadCase
from ivr.core.prompts import spell_digits
from ivr.core.recordings import is_twilio_recording
from ivr.core.twiml import Hook, render, render_empty, render_message
from ivr.store import oncall_overrides, overrides
from ivr.web import call_events, db_steps
from ivr.web.live_menus import get_lines
from ivr.web.signature import decoded, form_params, request_path

log = logging.getLogger("ivr.calls")
MAX_PARAM = 256
CASE_PARAM_CHARS = 16  # longer than any case number: the rest is not read
RENDER_CACHE_SIZE = 4096  # distinct documents kept per worker (a line has a few hundred)
MAX_ADAPTERS = 64  # URL builders kept per worker, one per script root seen
Overrides = tuple[tuple[HoursOverride, ...], tuple[OnCallOverride, ...]]
OverrideCache = dict[str, tuple[float, Overrides]]
TWIML_TYPE = "text/xml; charset=utf-8"  # what Flask makes of mimetype="text/xml", made once
# Digits no prompt or URL of ours holds (MATHEMATICAL DOUBLE-STRUCK DIGIT ZERO to NINE): the
# case number's place in the template of a document that reads one out (a new case's, a
# found case's).
PLACEHOLDER_DIGITS = "".join(chr(0x1D7D8 + digit) for digit in range(10))

# The call log's JSON, encoded by one encoder made once (json.dumps makes one per call when
# given options); non-ASCII as is, control characters escaped (no forged log lines).
_to_json = json.JSONEncoder(ensure_ascii=False).encode

# Sent once per webhook with what it logged (line, node, outcome): `flask ivr call` listens.
webhook_answered = Namespace().signal("ivr.webhook-answered")


def init_app(app: Flask) -> None:
    """Give the app its (empty) caches: hours overrides, URL builders."""
    app.extensions["ivr.override_cache"] = {}
    app.extensions["ivr.url_adapters"] = {}


def link(hook: Hook, /, **values: str | int | None) -> str:
    """A webhook's URL: a path Twilio resolves against the URL it called.

    Absolute under PUBLIC_BASE_URL, whose host and prefix Twilio is given.
    """
    return build_link(current_app._get_current_object(),  # type: ignore[attr-defined]
                      request.environ, hook, **values)


def build_link(app: Flask, environ: dict[str, Any], hook: Hook, /,
               **values: str | int | None) -> str:
    """`link` for a request's environ, with no request context (what `url_for` builds)."""
    given: dict[str, Any] = {name: value for name, value in values.items() if value is not None}
    script_name = environ.get("SCRIPT_NAME", "")
    adapters: dict[str, MapAdapter] = app.extensions["ivr.url_adapters"]
    adapter = adapters.get(script_name)
    if adapter is None:
        if len(adapters) >= MAX_ADAPTERS:  # a prefix a proxy sets per request: keep a few
            adapters.clear()
        # the prefix as Werkzeug decodes it for `url_for` (WSGI strings are latin-1)
        adapter = adapters[script_name] = app.url_map.bind(
            "localhost", script_name=decoded(script_name))
    path = adapter.build(hook.value, given)
    base = app.config["PUBLIC_BASE_URL"]
    return base + path[len(adapter.script_name.rstrip("/")):] if base else path


def answer(line: Line, plan: Plan, at: Moment, stop_transcription: str | None = None) -> Response:
    """Settle any database step of `plan`, render it, and log one line about this webhook."""
    if db_steps.needs_database(plan):  # most webhooks have nothing for the database to do
        plan = db_steps.resolve(line, plan, param("CallSid"), param("From"), at)
    log_call(line.id, plan.node, plan.outcome, [o.id for o in at.overrides])
    return twiml(_rendered(line, plan, stop_transcription))


def answer_from_memory(line: Line, plan: Plan) -> Response:
    """Render a plan that has no database step and log it: nothing but this worker's memory."""
    log_call(line.id, plan.node, plan.outcome)
    return twiml(_rendered(line, plan))


def _rendered(line: Line, plan: Plan, stop_transcription: str | None = None) -> str:
    """The TwiML of a plan, rendered once per worker and reused: most calls take a few paths."""
    return rendered_in(current_app._get_current_object(),  # type: ignore[attr-defined]
                       request.environ, line, plan, stop_transcription)


def rendered_in(app: Flask, environ: dict[str, Any], line: Line, plan: Plan,
                stop_transcription: str | None = None) -> str:
    """`_rendered` for a request's environ, with no request context."""
    cache: dict[object, str] = app.extensions["ivr.render_cache"]
    if len(cache) >= RENDER_CACHE_SIZE:
        cache.clear()
    if isinstance(plan.action, ReadCase) or plan.case_number:
        from_template = _from_template(app, environ, line, plan, stop_transcription)
        if from_template is not None:
            return from_template
    key = (id(line), plan, environ.get("SCRIPT_NAME", ""), stop_transcription)
    document = cache.get(key)
    if document is None:
        urls = functools.partial(build_link, app, environ)
        document = cache[key] = render(line, plan, urls, stop_transcription)
    return document


def _from_template(app: Flask, environ: dict[str, Any], line: Line, plan: Plan,
                   stop_transcription: str | None) -> str | None:
    """A case number read back, or a found case's, from a template; None where there is none.

    Each new case reads a number no other call hears, and each look-up most often a case
    no other call looked up, so their documents are not kept: the node's document is
    rendered once with placeholder digits, and each number is written into it. The template
    is kept only if it gave exactly what rendering the first number gave (else each number
    is rendered, as any document: "" marks such a shape).
    """
    if isinstance(plan.action, ReadCase):
        number, renumber = plan.action.number, case_flow.renumbered
    else:
        number, renumber = plan.case_number, case_flow.found_renumbered
    if not (number.isascii() and number.isdigit() and len(number) <= 10):
        return None
    placeholder = PLACEHOLDER_DIGITS[:len(number)]
    shape = renumber(line, plan, placeholder)
    if shape is None:
        return None
    cache: dict[object, str] = app.extensions["ivr.render_cache"]
    key = ("template", id(line), shape, environ.get("SCRIPT_NAME", ""), stop_transcription)
    template = cache.get(key)
    if template is None:
        urls = functools.partial(build_link, app, environ)
        document = render(line, plan, urls, stop_transcription)
        template = render(line, shape, urls, stop_transcription)
        cache[key] = template if _filled(template, placeholder, number) == document else ""
        return document
    return _filled(template, placeholder, number) if template else None


def _filled(template: str, placeholder: str, number: str) -> str:
    """The template with `number` in the placeholder's places: spelt out, and in URLs.

    Both forms in one pass, so that what one replacement writes is never read by the other."""
    places, spelt = _PLACEHOLDER_PLACES[len(placeholder)]
    spelt_number = spell_digits(number)
    return places.sub(lambda found: spelt_number if found.group() == spelt else number,
                      template)


def _placeholder_places(placeholder: str) -> tuple[re.Pattern[str], str]:
    """The placeholder's forms in a document as one pattern, and its spelt-out form.

    Spelt out, or quoted in a URL."""
    spelt = spell_digits(placeholder)
    return re.compile("|".join(map(re.escape, (spelt, urllib.parse.quote(placeholder))))), spelt


# Each placeholder's forms, by its length (a template's number has at most ten digits).
_PLACEHOLDER_PLACES = {length: _placeholder_places(PLACEHOLDER_DIGITS[:length])
                       for length in range(1, len(PLACEHOLDER_DIGITS) + 1)}


def moment(line: Line) -> Moment:
    """Now, with the line's hours and on-call overrides (read again every few seconds)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # one look-up
    at = app.config["CLOCK"]()
    return moment_with(at, _overrides(app, line.id, at))


def moment_with(at: datetime, found: Overrides) -> Moment:
    """The moment `at`, with those of the overrides found that have not ended."""
    hours, on_call = found
    return Moment(at, tuple(o for o in hours if o.until > at),
                  tuple(o for o in on_call if o.until > at))


def fresh_overrides(app: Flask, line_id: str) -> Overrides | None:
    """The line's overrides if this worker read them less than IVR_OVERRIDE_TTL ago, else None."""
    cached = app.extensions["ivr.override_cache"].get(line_id)
    if cached is not None and cached[0] > app.config["MONOTONIC"]():
        found: Overrides = cached[1]
        return found
    return None


def _overrides(app: Flask, line_id: str, at: datetime) -> Overrides:
    """The line's overrides, from a cache that lives IVR_OVERRIDE_TTL seconds per worker."""
    found = fresh_overrides(app, line_id)
    if found is not None:
        return found
    cache: OverrideCache = app.extensions["ivr.override_cache"]
    cached = cache.get(line_id)
    found = db.attempt(lambda: _read_overrides(line_id, at),
                       "hours overrides unreadable: schedules alone decide")
    if found is None:
        found = cached[1] if cached is not None else ((), ())
    cache[line_id] = (app.config["MONOTONIC"]() + app.config["IVR_OVERRIDE_TTL"], found)
    return found


def _read_overrides(line_id: str, at: datetime) -> Overrides:
    """The line's overrides from the database; the connection goes back to the pool at once.

    The webhook's own step (a look-up, a new case) then checks out the one it needs: a request
    never holds two connections, so threads that all read the overrides at once (when the cache
    expires) cannot take the whole pool and then wait on each other for a second one.
    """
    session = db.session()
    found = (overrides.active(session, line_id, at), oncall_overrides.active(session, line_id, at))
    session.rollback()  # a read: ends the transaction and releases its connection
    return found


def for_line(view: Callable[..., Response]) -> Callable[..., Response]:
    """Give the view the line its URL names; an unknown line gets the polite message."""

    @functools.wraps(view)
    def wrapped(line_id: str, **kwargs: Any) -> Response:
        """Find the line, then run the view."""
        line = get_lines().get(line_id)
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
    line = get_lines().any_line()
    if line is None:  # no menu loaded at all (only under an admin command): end the call
        return twiml(render_empty())
    prompt = line.prompt(prompt_id)
    return twiml(render_message(prompt.text, line.spec.voice, line.spec.say_language))


def log_call(
    line: str | None, node: str | None, outcome: str, overrides: list[int] | None = None
) -> None:
    """One structured line per webhook: call, line, node, outcome (and overrides in force)."""
    log_webhook(current_app._get_current_object(),  # type: ignore[attr-defined]
                request.environ, line, node, outcome, overrides)


def log_webhook(app: Flask, environ: dict[str, Any], line: str | None, node: str | None,
                outcome: str, overrides: list[int] | None = None) -> None:
    """`log_call` for a request's environ, with no request context (its event noted too)."""
    call = form_params(environ).get("CallSid")
    call = call[:MAX_PARAM] if call is not None else None
    record: dict[str, object] = {
        "event": "webhook",
        "path": request_path(environ)[:MAX_PARAM],
        "call": call,
        "line": line,
        "node": node,
        "outcome": outcome,
    }
    if overrides:
        record["overrides"] = overrides
    call_events.note_in(app, call, line, node, outcome, app.config["CLOCK"]())
    if webhook_answered.receivers:  # the simulator listens for the app itself, not the proxy
        webhook_answered.send(app, record=record)
    if log.isEnabledFor(logging.INFO):
        # makeRecord + handle: the same record as log.info, without walking the stack to
        # find the caller's file and line, which no one reads in a call log.
        log.handle(log.makeRecord(log.name, logging.INFO, "", 0, _to_json(record), (), None))


def twiml(document: str) -> Response:
    """A 200 response carrying a TwiML document (text/xml; charset=utf-8)."""
    return Response(document, status=200, content_type=TWIML_TYPE)


def param(name: str) -> str | None:
    """A Twilio parameter, cut to a sane length (garbage is the navigator's to judge)."""
    return cut(form_params(request.environ).get(name))


def cut(value: str | None) -> str | None:
    """A Twilio parameter cut to MAX_PARAM characters (None stays None)."""
    return value[:MAX_PARAM] if value is not None else None


def case_param(digits: int | None = None) -> str | None:
    """The case number our own URL carries (`n`), if it is a well-formed one (of `digits`)."""
    number = request.args.get("n", "")[:CASE_PARAM_CHARS]
    if not number or not check_digit.is_valid(number, digits or len(number)):
        return None
    return number


def twilio_recording(url: str, call_sid: str | None) -> bool:
    """Whether a RecordingUrl is Twilio's own; any other is refused (not stored, logged)."""
    if is_twilio_recording(url):
        return True
    log.warning("RecordingUrl refused for call %s: not a Twilio recording (%r)", call_sid,
                url[:120])
    return False


def now() -> datetime:
    """The current time from the app's clock (the system clock unless a test injects one)."""
    moment: datetime = current_app.config["CLOCK"]()
    return moment
