"""The fast lane answers the incoming call and menu keys exactly as the Flask views do."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
import sqlalchemy as sa
import werkzeug.urls  # noqa: F401 - registers the codec error handler parse_form uses
from flask import Flask, url_for
from hypothesis import given
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from ivr import db
from ivr.core import check_digit
from ivr.core.twiml import Hook
from ivr.store import cases, overrides
from ivr.web import fast_lane, helpers, signature
from ivr.web.helpers import webhook_answered
from tests.conftest import CCO, CERTICAMARA, TOKEN, Clock, Monotonic, Twiml

SID = "CA" + "9" * 32
PROXIED = "https://ivr.example.com/ivr"  # the URL Twilio calls behind a trusted proxy
ASCII_CALLER = "+573001234567"


def _requests(stored: str = "") -> list[tuple[str, dict[str, str], dict[str, Any]]]:
    """Webhook requests as Twilio (or someone else) sends them: (path, params, options).

    `stored`: a case number in the database, to look up.
    """
    def call(**extra: str) -> dict[str, str]:
        """Twilio's standard parameters, plus `extra`."""
        return {"CallSid": SID, "AccountSid": "AC" + "1" * 32, "From": ASCII_CALLER,
                "To": CERTICAMARA, "Direction": "inbound", **extra}

    out: list[tuple[str, dict[str, str], dict[str, Any]]] = [
        ("/voice", call(), {}),
        ("/voice", call(To=CCO, From="anonymous"), {}),  # no number to recognise: memory
        ("/voice", call(To=CCO, From="+584141112233"), {}),  # a number to look up: Flask
        ("/voice", call(To="+15005550006"), {}),  # no line answers it
        ("/voice", call(To="6017442727"), {}),  # not E.164: parsed
        ("/voice", {}, {}),  # nothing at all
        ("/voice", call(), {"signature": "A" * 27 + "="}),  # well formed, wrong
        ("/voice", call(), {"signature": "nonsense"}),
        ("/voice", call(), {"method": "GET"}),
        ("/voice", call(), {"base_url": "http://localhost/ivr"}),
        ("/voice", call(), {"environ": {"RAW_URI": "/voice"}}),
        ("/voice/", call(), {}),
        ("/voice/cco/menu/caso_opciones?f=0", call(To=CCO, Digits="1"), {}),  # a new case
        ("/voice/certicamara/menu/inexistente?f=0", call(Digits="1"), {}),
        ("/voice/nadie/menu/principal?f=0", call(Digits="1"), {}),
        ("/voice/certicamara/menu/principal/?f=0", call(Digits="1"), {}),
        ("/voice/certicamara/menu/princip%C3%A1l?f=0", call(Digits="1"), {}),
        ("/voice/certicamara/menu/principal?f=0", call(Digits="2"), {"body_extra": "&x=" +
                                                                      "y" * 70_000}),
        ("/voice", call(), {"base_url": "http://localhost/%C3%ADvr"}),  # a non-ASCII root
        ("/voice/certicamara/menu/soporte?f=0", call(Digits="5"),
         {"base_url": "http://localhost/%C3%ADvr"}),
        ("/voice", call(), {"headers": {"Host": "x" * 64 + ".example.com"}}),  # no such host
        ("/voice/certicamara/menu/principal?f=0", call(Digits="2"),
         {"headers": {"Host": "a..example.com"}}),
        ("/voice/certicamara/menu/principal?f=0", call(Digits="2"), {"signed_for": PROXIED,
         "headers": {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "ivr.example.com",
                     "X-Forwarded-Prefix": "/ivr"}}),  # through a proxy (when trusted)
        ("/voice/cco/menu/caso_opciones?f=0", _without_sid(call(To=CCO, Digits="1")), {}),
        ("/voice/cco/menu/caso_opciones?f=0", _without_sid(call(To=CCO, Digits="1")), {}),
    ]
    unknown = next(n for n in (f"{i:07d}" + check_digit.damm_digit(f"{i:07d}")
                               for i in range(1_234_567, 1_234_600)) if n != stored)
    bad_check = stored[:-1] + str((int(stored[-1]) + 1) % 10) if stored else "12345678"
    for digits in [stored, unknown, bad_check, "", "*", stored + "#", stored[:4], "x" * 9]:
        for f in ["?f=0", "?f=2", ""]:
            for sid in (SID, "CA" + "8" * 32):
                out.append((f"/voice/cco/case/consulta_caso/entry{f}",
                            {**call(To=CCO, Digits=digits), "CallSid": sid}, {}))
    out.append(("/voice/cco/case/nadie/entry?f=0", call(To=CCO, Digits=stored), {}))
    out.append(("/voice/cco/case/consulta_caso/entry?f=0",
                _without_sid(call(To=CCO, Digits=stored)), {}))
    out.append(("/voice/cco/case/consulta_caso/entry/x", call(To=CCO, Digits=stored), {}))
    for sid in (SID, "CA" + "7" * 32):  # a new case, then the same call again
        out.append(("/voice/cco/menu/caso_opciones?f=0",
                    {**call(To=CCO, Digits="1"), "CallSid": sid}, {}))
        out.append(("/voice/cco/menu/caso_opciones?f=0",
                    {**call(To=CCO, Digits="1"), "CallSid": sid}, {}))
    for digits in ["", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#", "25", "2x",
                   "²", "9" * 300, "1#"]:
        for f in ["", "?f=0", "?f=2", "?f=3", "?f=x", "?f=1&f=3"]:
            out.append((f"/voice/certicamara/menu/principal{f}", call(Digits=digits), {}))
    for node, digits in [("incidente_critico", "1"), ("incidente_critico", "2"),
                         ("soporte", "5"), ("soporte", "")]:
        out.append((f"/voice/certicamara/menu/{node}?f=0", call(Digits=digits), {}))
        out.append((f"/voice/certicamara/menu/{node}?f=0", call(Digits=digits),
                    {"base_url": "http://localhost/ivr"}))
    return out


def _without_sid(params: dict[str, str]) -> dict[str, str]:
    """Twilio's parameters without CallSid (Twilio always sends one; others may not)."""
    return {name: value for name, value in params.items() if name != "CallSid"}


def _play(app: Flask, monotonic: Monotonic,
          stored: str = "") -> list[tuple[int, str, bytes, list[Any]]]:
    """Each request of `_requests` against `app`: status, type, body and what it logged.

    Signed for the URL Twilio would call: under PUBLIC_BASE_URL when the app has one.
    """
    validator = RequestValidator(TOKEN)
    client = app.test_client()
    seen: list[tuple[int, str, bytes, list[Any]]] = []
    for path, params, options in _requests(stored):
        base = options.get("base_url", "http://localhost")
        public = app.config["PUBLIC_BASE_URL"] or options.get("signed_for") or base
        signature = options.get("signature") or validator.compute_signature(public + path,
                                                                            params)
        records: list[Any] = []

        def keep(sender: object, record: dict[str, Any], records: list[Any] = records,
                 **_: Any) -> None:
            """Keep what the webhook logged."""
            records.append(record)

        with webhook_answered.connected_to(keep):
            response = client.open(
                path, method=options.get("method", "POST"), base_url=base,
                data=urlencode(params) + options.get("body_extra", ""),
                content_type="application/x-www-form-urlencoded",
                headers={"X-Twilio-Signature": signature, **options.get("headers", {})},
                environ_overrides=options.get("environ", {}))
        seen.append((response.status_code, response.content_type, response.data, records))
        monotonic.advance(0.01)
    return seen


@pytest.mark.parametrize(("settings", "closed"), [
    ({}, None), ({"PUBLIC_BASE_URL": "https://ivr.example.com/ivr"}, None),
    ({"TRUSTED_PROXIES": 1}, None), ({}, "soporte"), ({}, "")])
def test_the_same_answers_with_and_without_the_fast_lane(
        make_app: Any, monotonic: Monotonic, clock: Clock, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, settings: dict[str, Any], closed: str | None) -> None:
    """Every request gets the same status, document and log line (and exactly one) whether
    the fast lane answers it or Flask does, and leaves the same rows in every table (each
    app on its own database, case numbers drawn in the same order); overrides (a node or the
    line closed from the console) and menus looked at as often."""
    runs = []
    for lane in (True, False):
        drawn = itertools.count(5_000_000)

        def draw(digits: int, drawn: Iterator[int] = drawn) -> str:
            """The next case number of a fixed sequence (the same for both apps)."""
            body = str(next(drawn)).rjust(digits - 1, "0")
            return body + check_digit.damm_digit(body)

        monkeypatch.setattr(cases, "new_number", draw)
        app = make_app(IVR_OVERRIDE_TTL=2, IVR_FAST_LANE=lane,  # overrides read every 2 s
                       DATABASE_URL=f"sqlite:///{tmp_path}/lane-{lane}.sqlite3", **settings)
        with app.app_context():
            stored = cases.issue_number(db.connection(), call_sid="CA" + "6" * 32, line="cco",
                                        team="centro_soporte", caller=None, node="nuevo_caso",
                                        now=clock.now)
            db.connection().commit()
            if closed is not None:
                overrides.add(db.session(), line="certicamara", node=closed or None,
                              open_=False, starts_at=clock.now,
                              until=clock.now + timedelta(hours=1), reason="prueba",
                              now=clock.now)
        to_flask: list[str] = []
        if lane:
            wrapper = app.wsgi_app
            while not isinstance(wrapper, fast_lane.FastLane):  # inside ProxyFix, if any
                wrapper = wrapper.app
            flask_wsgi = wrapper.flask_wsgi

            def counted(environ: dict[str, Any], start_response: Any,
                        flask_wsgi: Any = flask_wsgi, to_flask: list[str] = to_flask) -> Any:
                """Flask, counting what reaches it."""
                to_flask.append(environ["PATH_INFO"])
                return flask_wsgi(environ, start_response)

            wrapper.flask_wsgi = counted
        answers = _play(app, monotonic, stored)
        runs.append((answers, _tables(app), to_flask))
    played = _requests(runs[0][0] and stored)
    (fast, fast_rows, to_flask), (slow, slow_rows, _) = runs
    assert len(to_flask) < len(played) / 3, to_flask  # most answered by the lane
    assert len(fast) == len(played)
    for request, with_lane, without in zip(played, fast, slow, strict=True):
        assert with_lane == without, request
        status, _, _, records = with_lane
        if closed is not None and records:
            assert records[0].get("overrides") or records[0]["line"] != "certicamara"
        assert len(records) == (1 if status == 200 else 0), request  # 403, 413: warnings
    assert fast_rows == slow_rows
    assert fast_rows["cases"] and fast_rows["call_events"]


def _tables(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the app's database, in order."""
    engine = db.make_engine(app.config["DATABASE_URL"])
    with engine.connect() as connection:
        names = sa.inspect(connection).get_table_names()
        found = {name: [tuple(row) for row in connection.execute(
            sa.text(f'SELECT * FROM "{name}" ORDER BY 1'))] for name in names}
    engine.dispose()
    return found


def test_it_answers_from_memory_and_leaves_the_rest_to_flask(
        make_app: Any, monotonic: Monotonic) -> None:
    """With Flask out of reach, an incoming call and keys still answer; a request the lane
    does not answer (overrides or menus due a look, a database step) reaches Flask."""
    app = make_app(IVR_OVERRIDE_TTL=2)
    validator = RequestValidator(TOKEN)
    client = app.test_client()

    def post(path: str, **params: str) -> Any:
        """A signed request of call SID to the Certicámara line."""
        form = {"CallSid": SID, "From": ASCII_CALLER, "To": CERTICAMARA, **params}
        return client.post(path, data=form, headers={
            "X-Twilio-Signature": validator.compute_signature("http://localhost" + path, form)})

    assert post("/voice").status_code == 200  # through Flask: the overrides are read
    lane = app.wsgi_app
    assert isinstance(lane, fast_lane.FastLane)
    reached: list[str] = []

    def flask_away(environ: dict[str, Any], start_response: Any) -> Any:
        """Stands for Flask: notes what reached it, answers a marker."""
        reached.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/xml")])
        return [b"<Response><Say>flask</Say></Response>"]

    lane.flask_wsgi = flask_away
    welcome = Twiml(post("/voice").data)
    assert welcome.all("Gather")
    key = Twiml(post("/voice/certicamara/menu/principal?f=0", Digits="2").data)
    assert key.all("Gather") or key.all("Dial") or key.all("Enqueue")
    dial = Twiml(post("/voice/certicamara/menu/incidente_critico?f=0", Digits="1").data)
    assert dial.numbers
    assert reached == []
    assert Twiml(post("/voice/cco/menu/caso_opciones?f=0", Digits="1").data).text == "flask"
    assert reached == ["/voice/cco/menu/caso_opciones"]  # unknown to this line: Flask says so
    monotonic.advance(app.config["IVR_OVERRIDE_TTL"] + 1)  # overrides due a fresh read
    assert Twiml(post("/voice").data).text == "flask"
    assert reached[-1] == "/voice"
    app.config["IVR_OVERRIDE_TTL"] = 1_000
    lane.flask_wsgi = app.__class__.wsgi_app.__get__(app)  # Flask back: the overrides read
    assert Twiml(post("/voice").data).all("Gather")
    lane.flask_wsgi = flask_away
    monotonic.advance(app.config["IVR_RELOAD_SECONDS"] + 1)  # the menu files due a look
    assert Twiml(post("/voice").data).text == "flask"


def test_a_failure_in_the_lane_is_answered_by_flask_once(
        make_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception in the fast lane: Flask answers the same request, one log line in all."""
    app = make_app(IVR_OVERRIDE_TTL=2)
    validator = RequestValidator(TOKEN)
    client = app.test_client()
    form = {"CallSid": SID, "From": ASCII_CALLER, "To": CERTICAMARA}
    headers = {"X-Twilio-Signature": validator.compute_signature("http://localhost/voice", form)}
    expected = client.post("/voice", data=form, headers=headers).data

    def broken(*args: Any, **kwargs: Any) -> str:
        """A renderer that fails."""
        raise RuntimeError("boom")

    monkeypatch.setattr(fast_lane, "rendered_in", broken)
    records: list[Any] = []
    with webhook_answered.connected_to(lambda sender, record, **_: records.append(record)):
        response = client.post("/voice", data=form, headers=headers)
    assert response.status_code == 200 and response.data == expected
    assert len(records) == 1
    # after its database step: Flask opens the case again for the same call, the same number
    path = "/voice/cco/menu/caso_opciones?f=0"
    form = {"CallSid": SID, "From": ASCII_CALLER, "To": CCO, "Digits": "1"}
    headers = {"X-Twilio-Signature": validator.compute_signature("http://localhost" + path,
                                                                 form)}
    records.clear()
    with webhook_answered.connected_to(lambda sender, record, **_: records.append(record)):
        told = Twiml(client.post(path, data=form, headers=headers).data)
    assert [r["outcome"] for r in records] == ["case-opened"]
    with app.app_context():
        stored = db.connection().execute(sa.text(
            "SELECT number FROM cases WHERE call_sid = :sid"), {"sid": SID}).scalars().all()
    assert len(stored) == 1
    assert ", ".join(stored[0]) in told.text


@given(st.text(alphabet="ab=&+%2Fé;\x00 ", max_size=30))
def test_forms_are_parsed_as_werkzeug_parses_them(text: str) -> None:
    """`parse_form` gives the pairs `parse_qsl` gives, with or without escapes."""
    expected = parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")
    assert signature.parse_form(text.encode()) == expected


@pytest.mark.parametrize("root", ["", "/ivr", "/%C3%ADvr"])
def test_links_are_what_url_for_builds(make_app: Any, root: str) -> None:
    """`build_link` (the lane's and the views' URL builder) gives what Flask's `url_for` gives,
    under a script root too, also one that is not ASCII."""
    app = make_app()
    values = {"line_id": "certicamara", "node_id": "soporte", "f": 2, "n": "12345678"}
    with app.test_request_context("/voice", base_url="http://localhost" + root):
        for hook in (Hook.MENU, Hook.DIAL, Hook.CASE_ENTRY, Hook.SCREEN):
            assert helpers.link(hook, **values) == url_for(hook.value, **values)
