"""The webhooks of nearly every call, answered without Flask's request machinery.

An incoming call (`POST /voice`), a key in a menu (`/voice/<line>/menu/<node>`) and a case
number typed (`/voice/<line>/case/<node>/entry`) are most of what Twilio asks, and what they
need is usually all in this worker's memory (the menus, the line's overrides read less than
IVR_OVERRIDE_TTL ago, the documents already rendered), plus, for a case to open or look up,
the one statement `db_steps` runs. For those, this WSGI layer in front of Flask checks the
signature, asks the navigator (and the database step, inside an app context, which is where
its session lives), leaves the webhook's log line and event, and answers, with the same
functions the Flask views use but without a request context, URL routing, hooks and response
objects, which cost more than the rest of the work (docs/performance.md).

It answers only where it answers exactly as the Flask views would. Everything else goes on
to Flask, untouched but for what was already worked out (the body read and put back, the
parameters and the signature's verdict kept in the environ): another webhook or method, a
body without Content-Length, over the limit or not a form, a Host Flask refuses, a signature
that does not match (Flask refuses it, and logs it), a line or a number no line claims, a
repeat caller to look for among pending callbacks, a missed call to note, a case step without
CallSid, menus or overrides due a fresh look, and any exception (a database step already done
is done again by Flask: opening a case and noting a look-up are once per CallSid, so the
caller hears the same number). IVR_FAST_LANE=off sends everything to Flask;
tests/test_fast_lane.py plays the same calls both ways, each on its own database, and
compares documents, log lines and every table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from werkzeug.wsgi import get_host

from ivr.core import callbacks, case_flow, navigator
from ivr.core.lines import Directory, Line
from ivr.core.navigator import FindCase, OpenCase, Plan
from ivr.web import db_steps
from ivr.web.helpers import (
    TWIML_TYPE,
    cut,
    fresh_overrides,
    log_webhook,
    moment_with,
    rendered_in,
)
from ivr.web.live_menus import due_a_look
from ivr.web.signature import (
    PARAMS,
    SIGNED,
    expected_signature,
    first_values,
    is_form,
    parse_form,
    public_url,
    take_body,
)

log = logging.getLogger("ivr.fast_lane")
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Answered = tuple[str, Line, Plan, list[int]]  # the document, and what its log line says
INCOMING, MENU, CASE_ENTRY = "incoming", "menu", "case-entry"


class FastLane:
    """A WSGI app in front of Flask's: the hot webhooks from memory, the rest to Flask."""

    def __init__(self, app: Flask, flask_wsgi: WSGIApp) -> None:
        """Answer for `app`, handing what it does not answer to `flask_wsgi`."""
        self.app, self.flask_wsgi = app, flask_wsgi

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Answer from memory if this request allows it, else let Flask answer."""
        try:
            answered = _answer(self.app, environ)
        except Exception:  # noqa: BLE001 - Flask answers instead, with its error handling
            log.debug("declined after an error: Flask answers", exc_info=True)
            answered = None
        if answered is None:
            return self.flask_wsgi(environ, start_response)
        document, line, plan, overrides = answered
        try:
            log_webhook(self.app, environ, line.id, plan.node, plan.outcome, overrides)
        except Exception:  # noqa: BLE001 - the caller still gets the right answer
            log.exception("the log line of a webhook failed")
        body = document.encode()
        start_response("200 OK", [("Content-Type", TWIML_TYPE),
                                  ("Content-Length", str(len(body)))])
        return [body]


def _answer(app: Flask, environ: dict[str, Any]) -> Answered | None:
    """The webhook's answer, if all it needs is in memory (and a case's one statement)."""
    if environ.get("REQUEST_METHOD") != "POST":
        return None
    route = _route(environ.get("PATH_INFO", ""))
    if route is None or due_a_look(app) is not None:
        return None
    params = _signed_params(app, environ)
    if params is None:
        return None
    lines: Directory = app.extensions["ivr.lines"]
    kind, line_id, node_id = route
    if kind == INCOMING:
        line = lines.for_called(cut(params.get("To")))
        if line is None or callbacks.recognisable(line, cut(params.get("From"))):
            return None  # unknown number, or a caller to look for among pending callbacks
    else:
        line = lines.get(line_id)
        if line is None:
            return None
    found = fresh_overrides(app, line.id)
    if found is None:
        return None
    at = moment_with(app.config["CLOCK"](), found)
    failures = navigator.parse_count(_query(environ).get("f"))
    digits = cut(params.get("Digits"))
    if kind == INCOMING:
        plan = navigator.incoming(line, at)
    elif kind == MENU:
        plan = navigator.press(line, node_id, digits, failures, at)
    else:
        plan = case_flow.entered(line, node_id, digits, failures, at)
    if db_steps.needs_database(plan):
        if not isinstance(plan.action, OpenCase | FindCase) or not params.get("CallSid"):
            return None  # a missed call to note, or a step not once per call: Flask does it
        with app.app_context():  # the database session and health live in Flask's `g`
            plan = db_steps.resolve(line, plan, cut(params.get("CallSid")),
                                    cut(params.get("From")), at)
    return rendered_in(app, environ, line, plan), line, plan, [o.id for o in at.overrides]


def _route(path: str) -> tuple[str, str, str] | None:
    """Which webhook a path names: (kind, line, node); None for one the lane leaves to Flask.

    `voice.incoming` (`/voice`), `voice.menu` (`/voice/<line>/menu/<node>`) and
    `case_calls.entry` (`/voice/<line>/case/<node>/entry`).
    """
    if path == "/voice":
        return INCOMING, "", ""
    parts = path.split("/")
    if len(parts) < 5 or parts[1] != "voice" or not parts[2] or not parts[4] or not path.isascii():
        return None
    if len(parts) == 5 and parts[3] == "menu":
        return MENU, parts[2], parts[4]
    if len(parts) == 6 and parts[3] == "case" and parts[5] == "entry":
        return CASE_ENTRY, parts[2], parts[4]
    return None


def _signed_params(app: Flask, environ: dict[str, Any]) -> dict[str, str] | None:
    """The request's parameters if it is a form Twilio signed; the verdict kept for Flask.

    A Host that Flask's URL adapter refuses (BadHost) is left to Flask, which answers it.
    """
    app.url_map.bind(get_host(environ).lower())  # raises where Flask's own binding would
    length = environ.get("CONTENT_LENGTH", "")
    if not length.isdigit() or int(length) > app.config["IVR_MAX_BODY_BYTES"]:
        return None
    if not is_form(environ):
        return None
    checked = app.config["IVR_SIGNATURE_CHECK"]
    expected = expected_signature(app, environ) if checked else None
    if checked and expected is None:
        environ[SIGNED] = False  # Flask's gate refuses it (403) and logs it, body unread
        return None
    pairs = parse_form(take_body(environ, int(length)))
    params: dict[str, str] = first_values(pairs)
    environ[PARAMS] = params
    url = public_url(environ, app.config["PUBLIC_BASE_URL"])
    signed = environ[SIGNED] = expected is None or expected.matches(url, pairs)
    return params if signed else None


def _query(environ: dict[str, Any]) -> dict[str, str]:
    """Our own URL's query, first value of each name (what `request.args.get` gives)."""
    query: str = environ.get("QUERY_STRING", "")
    return first_values(parse_form(query.encode("latin-1"))) if query else {}
