"""The console through Flask's test client: accounts and the users command, the login form
at /console/, roles, CSRF, the login limit shared by workers, the audit log, the force-closed
line heard on the phone, on-call overrides, the call events and the dashboard."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ivr import db
from ivr.store import audit, call_events, users
from tests.conftest import CCO, CERTICAMARA, TOKEN, Caller, Clock

PASSWORD = "una clave larga"
HTTPS = "https://localhost"


def add_user(runner: Any, name: str, role: str, *extra: str, password: str = PASSWORD) -> Any:
    """`flask ivr users add NAME --role ROLE` with the password on standard input."""
    return runner.invoke(args=["ivr", "users", "add", name, "--role", role, *extra],
                         input=f"{password}\n{password}\n")


class HttpsClient(FlaskClient):
    """A test client whose requests come over HTTPS (the session cookie is Secure)."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        """Send the request to https://localhost."""
        if args and isinstance(args[0], str):
            kwargs.setdefault("base_url", HTTPS)
            # a browser's same-origin Referer (CSRF checks it over HTTPS)
            kwargs.setdefault("headers", {}).setdefault("Referer", HTTPS + "/console/")
        return super().open(*args, **kwargs)


def client_for(app: Flask) -> FlaskClient:
    """A browser-like client over HTTPS."""
    return HttpsClient(app, app.response_class, use_cookies=True)


def token(page: bytes) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1).decode()


def spoken_case(text: str) -> str:
    """The case number said digit by digit ('5, 2, 9, ...')."""
    found = re.search(r"(\d(?:, \d){7})", text)
    assert found, text
    return found.group(1).replace(", ", "")


def log_in(client: FlaskClient, name: str, password: str = PASSWORD) -> Any:
    """Fill in the login form."""
    page = client.get("/console/login").data
    return client.post("/console/login", data={"username": name, "password": password,
                                                "csrf_token": token(page)})


@pytest.fixture
def people(app: Flask) -> dict[str, FlaskClient]:
    """An analyst, a supervisor and an admin, each logged in with their own client."""
    runner = app.test_cli_runner()
    found = {}
    for role in ("analyst", "supervisor", "admin"):
        assert add_user(runner, f"ana-{role}", role, "--phone", "+573001112233").exit_code == 0
        found[role] = client_for(app)
        assert log_in(found[role], f"ana-{role}").status_code == 302
    return found


def test_the_console_root_answers_a_login_form_to_strangers(app: Flask) -> None:
    """/console/ shows a form with a username and a password field, and a CSRF token."""
    page = client_for(app).get("/console/")
    assert page.status_code == 200
    assert b'name="username"' in page.data and b'type="password"' in page.data
    assert b'name="csrf_token"' in page.data
    assert client_for(app).get("/console/cases").status_code == 302


def test_users_add_reads_the_password_from_stdin_one_line_or_twice(app: Flask,
                                                                    runner: Any) -> None:
    """Like passwd --stdin: one line, or the same line twice; different lines are refused."""
    assert add_user(runner, "uno", "admin").exit_code == 0
    once = runner.invoke(args=["ivr", "users", "add", "dos", "--role", "analyst"],
                         input=PASSWORD + "\n")
    assert once.exit_code == 0, once.output
    differ = runner.invoke(args=["ivr", "users", "add", "tres", "--role", "analyst"],
                           input=f"{PASSWORD}\notra clave distinta\n")
    assert differ.exit_code != 0 and "differ" in differ.output
    short = add_user(runner, "cuatro", "analyst", password="corta")
    assert short.exit_code != 0
    with app.app_context():
        stored = users.find(db.session(), "uno")
        assert stored is not None and PASSWORD not in stored.password_hash
        assert stored.password_hash.startswith("scrypt$")
        assert [e.action for e in audit.listing(db.session())] == ["user.add", "user.add"]
    assert log_in(client_for(app), "dos").status_code == 302


def test_users_role_reset_remove_and_old_sessions_end(app: Flask, runner: Any) -> None:
    """A role change or a reset ends the account's open sessions; remove deletes it."""
    add_user(runner, "pepa", "supervisor")
    browser = client_for(app)
    log_in(browser, "pepa")
    assert browser.get("/console/lines").status_code == 200
    assert runner.invoke(args=["ivr", "users", "role", "pepa", "analyst"]).exit_code == 0
    assert browser.get("/console/lines").status_code == 302  # logged out
    log_in(browser, "pepa")
    assert browser.get("/console/lines").status_code == 403
    reset = runner.invoke(args=["ivr", "users", "reset", "pepa"], input="nueva clave larga\n")
    assert reset.exit_code == 0
    assert browser.get("/console/cases").status_code == 302
    assert log_in(browser, "pepa").status_code == 401
    assert log_in(browser, "pepa", "nueva clave larga").status_code == 302
    assert runner.invoke(args=["ivr", "users", "remove", "pepa"]).exit_code == 0
    assert browser.get("/console/cases").status_code == 302


def test_the_session_cookie_is_secure_httponly_samesite(app: Flask, runner: Any) -> None:
    """The signed session cookie carries Secure, HttpOnly and SameSite."""
    add_user(runner, "leo", "analyst")
    response = log_in(client_for(app), "leo")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


ROLE_PAGES = {
    "analyst": ["/console/", "/console/cases", "/console/missed", "/console/profile"],
    "supervisor": ["/console/lines", "/console/oncall", "/console/dashboard",
                   "/console/audit", "/console/diagrams"],
    "admin": ["/console/users"],
}


def test_each_role_reaches_its_pages_and_is_refused_above(people: dict[str, FlaskClient]
                                                          ) -> None:
    """Roles are enforced on the server for every page: 403 above one's role."""
    order = ["analyst", "supervisor", "admin"]
    for who, client in people.items():
        for level, pages in ROLE_PAGES.items():
            expected = 200 if order.index(who) >= order.index(level) else 403
            for page in pages:
                assert client.get(page).status_code == expected, (who, page)


def test_actions_are_refused_to_lower_roles(people: dict[str, FlaskClient]) -> None:
    """An analyst cannot force a line or add a user, even with a valid CSRF token."""
    analyst, supervisor = people["analyst"], people["supervisor"]
    forced = analyst.post("/console/lines/cco/override", data={
        "csrf_token": token(analyst.get("/console/profile").data), "state": "closed",
        "node": "", "until": "2026-12-02T10:00", "reason": "no"})
    assert forced.status_code == 403
    made = supervisor.post("/console/users", data={
        "csrf_token": token(supervisor.get("/console/profile").data), "username": "x",
        "role": "admin", "password": PASSWORD})
    assert made.status_code == 403


def test_a_form_without_its_csrf_token_is_refused(people: dict[str, FlaskClient],
                                                  app: Flask) -> None:
    """The same POST without the token answers 400 and changes nothing."""
    supervisor = people["supervisor"]
    data = {"state": "closed", "node": "", "until": "2026-12-02T10:00", "reason": "simulacro"}
    assert supervisor.post("/console/lines/cco/override", data=data).status_code == 400
    assert supervisor.post("/console/lines/cco/override",
                           data={**data, "csrf_token": "forged"}).status_code == 400
    assert client_for(app).post("/console/login", data={
        "username": "ana-admin", "password": PASSWORD}).status_code == 400
    page = supervisor.get("/console/lines").data
    assert supervisor.post("/console/lines/cco/override",
                           data={**data, "csrf_token": token(page)}).status_code == 302


def test_login_attempts_are_limited_across_workers(make_app: Any, clock: Clock) -> None:
    """Failures counted in one worker lock the username in another; the lock ends."""
    first, second = make_app(), make_app()
    add_user(first.test_cli_runner(), "rosa", "analyst")
    for _ in range(5):
        assert log_in(client_for(first), "rosa", "equivocada!!").status_code == 401
    assert log_in(client_for(second), "rosa").status_code == 429
    clock.now += timedelta(minutes=16)
    assert log_in(client_for(second), "rosa").status_code == 302


def test_a_session_cannot_drive_a_call_and_a_signature_cannot_open_a_page(
        people: dict[str, FlaskClient], app: Flask) -> None:
    """Webhooks want Twilio's signature, not a login; console pages want a login."""
    admin = people["admin"]
    assert admin.post("/voice", data={"To": CCO, "CallSid": "CA1"}).status_code == 403
    assert admin.post("/voice/console/1/status", data={"CallStatus": "x"}).status_code == 403
    signed = Caller(app.test_client())
    response = signed.post("/console/lines", {"CallSid": "CA1"})
    assert response.status_code in (302, 400, 405)
    assert app.test_client().get("/console/audit").status_code == 302


def test_forcing_a_line_closed_is_heard_on_the_phone_and_audited(
        people: dict[str, FlaskClient], app: Flask, clock: Clock) -> None:
    """A supervisor closes CCO until tomorrow: a call in hours hears it closed."""
    clock.set("2026-12-01 10:00", "America/Caracas")
    caller = Caller(app.test_client())
    assert "Gather" in caller.call(CCO).verbs
    opened_text = caller.last.text
    supervisor = people["supervisor"]
    page = supervisor.get("/console/lines").data
    response = supervisor.post("/console/lines/cco/override", data={
        "csrf_token": token(page), "state": "closed", "node": "",
        "until": "2026-12-02T08:00", "reason": "mantenimiento"})
    assert response.status_code == 302
    page = supervisor.get("/console/lines").data.decode()
    assert "mantenimiento" in page and 'data-state="closed"' in page
    closed = Caller(app.test_client())
    closed.sid = "CA" + "7" * 32
    closed.call(CCO)
    assert closed.last.text != opened_text
    assert "no estamos atendiendo" in closed.last.text or "fuera del horario" in closed.last.text
    with app.app_context():
        entry = audit.listing(db.session())[0]
        assert (entry.actor, entry.action, entry.target) == ("ana-supervisor", "override.add",
                                                             "line:cco")
        assert "mantenimiento" in (entry.after or "")


def test_an_on_call_override_changes_who_the_chain_rings(people: dict[str, FlaskClient],
                                                         app: Flask, clock: Clock) -> None:
    """CCO's second mobile put on call from the console is rung first by every worker."""
    clock.set("2026-12-01 22:00", "America/Caracas")
    first = Caller(app.test_client())
    first.call(CCO)
    first.press("1")
    assert first.last.numbers[0][0] == "+584140143913"
    supervisor = people["supervisor"]
    page = supervisor.get("/console/oncall").data
    saved = supervisor.post("/console/oncall/cco", data={
        "csrf_token": token(page), "rotation": "guardia", "contact": "1",
        "starts": "2026-12-01T21:00", "until": "2026-12-02T08:00", "reason": "vacaciones"})
    assert saved.status_code == 302
    assert "guardia suplente" in supervisor.get("/console/oncall").data.decode()
    second = Caller(app.test_client())
    second.sid = "CA" + "8" * 32
    second.call(CCO)
    second.press("1")
    assert second.last.numbers[0][0] == "+584140320151"


def test_every_webhook_writes_a_call_event_and_the_dashboard_counts_them(
        people: dict[str, FlaskClient], app: Flask, clock: Clock) -> None:
    """A scripted morning: events in the database, figures on the dashboard."""
    clock.set("2026-12-01 09:00", "America/Bogota")
    for n in range(3):
        caller = Caller(app.test_client())
        caller.sid = f"CA{n:032d}"
        caller.call(CERTICAMARA)
        caller.press("25")
        if n == 0:
            caller.queue_ends("hangup")
    with app.app_context():
        rows = call_events.between(db.session(), clock.now - timedelta(hours=1),
                                   clock.now + timedelta(hours=1))
    assert len(rows) == 7 and {r.line for r in rows} == {"certicamara"}
    assert all(r.call_sid and r.outcome for r in rows)
    page = people["supervisor"].get("/console/dashboard").data.decode()
    assert re.search(r'id="calls-today">3<', page)
    assert re.search(r'id="left-queue">3<', page)  # one hung up, two still waiting
    assert "<svg" in page and "certicamara/subasta" in page


def test_a_case_status_change_keeps_the_note_in_the_audit_log(
        people: dict[str, FlaskClient], app: Flask, clock: Clock) -> None:
    """An analyst finds a case by the caller's number, closes it with a note."""
    clock.set("2026-12-01 10:00", "America/Caracas")
    caller = Caller(app.test_client())
    caller.call(CCO, caller="+584121234567")
    caller.press("1")
    number = spoken_case(caller.last.text)
    analyst = people["analyst"]
    found = analyst.get("/console/cases?q=4121234567").data.decode()
    assert number in found
    page = analyst.get(f"/console/cases/{number}").data
    response = analyst.post(f"/console/cases/{number}/status", data={
        "csrf_token": token(page), "status": "closed", "level": "2",
        "note": "resuelto por teléfono"})
    assert response.status_code == 302
    page = analyst.get(f"/console/cases/{number}").data.decode()
    assert 'id="case-status">closed<' in page and "resuelto por teléfono" in page


def test_an_analyst_of_another_line_cannot_see_a_case(app: Flask, runner: Any,
                                                      clock: Clock) -> None:
    """Cases (and their recordings) are only for analysts of the case's line."""
    clock.set("2026-12-01 10:00", "America/Caracas")
    caller = Caller(app.test_client())
    caller.call(CCO)
    caller.press("1")
    number = spoken_case(caller.last.text)
    add_user(runner, "solo-certi", "analyst", "--lines", "certicamara")
    browser = client_for(app)
    log_in(browser, "solo-certi")
    assert browser.get(f"/console/cases/{number}").status_code == 404
    assert browser.get(f"/console/cases/{number}/recording").status_code == 404
    assert number not in browser.get("/console/cases").data.decode()


def test_the_token_is_the_twilio_signature_key_not_the_session_key(app: Flask) -> None:
    """The session secret is its own setting (the tests give one), not the Auth Token."""
    assert app.config["SECRET_KEY"] != TOKEN


def test_the_oncall_command_shows_an_override_set_from_the_console(
        people: dict[str, FlaskClient], runner: Any, clock: Clock) -> None:
    """`flask ivr oncall` tells the same as the phone chains: the console's override wins."""
    clock.set("2026-12-01 22:00", "America/Caracas")
    supervisor = people["supervisor"]
    page = supervisor.get("/console/oncall").data
    supervisor.post("/console/oncall/cco", data={
        "csrf_token": token(page), "rotation": "guardia", "contact": "1",
        "starts": "2026-12-01T21:00", "until": "2026-12-02T08:00", "reason": ""})
    out = runner.invoke(args=["ivr", "oncall", "cco"]).output
    assert "guardia suplente" in out.splitlines()[0] and "[override]" in out


def test_the_console_key_warning_is_said_when_serving_not_by_commands(
    tmp_path: Any, caplog: Any
) -> None:
    """Without SECRET_KEY the key is made once in the instance folder; serving says so, an
    admin command does not."""
    import logging

    from ivr import console, create_app

    config = {"TWILIO_AUTH_TOKEN": "t", "DATABASE_URL": f"sqlite:///{tmp_path}/k.db",
              "SECRET_KEY": None}
    with caplog.at_level(logging.WARNING, logger="ivr.console"):
        first = create_app(config)
        runner = first.test_cli_runner()
        assert runner.invoke(args=["ivr", "validate"]).exit_code == 0
        assert "SECRET_KEY is not set" not in caplog.text
        console.warn_when_serving(first)
        assert "SECRET_KEY is not set" in caplog.text
    again = create_app(config)
    assert again.config["SECRET_KEY"] == first.config["SECRET_KEY"]  # kept across restarts
    first.extensions["ivr.engine"].dispose()
    again.extensions["ivr.engine"].dispose()
