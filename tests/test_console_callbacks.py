"""The console's callbacks through Flask's test client: the list in the claim's order with due
times, claiming, "call me, then the customer" landing on the callback (Twilio's REST API
faked on loopback), outcomes by hand, roles, CSRF, the queues now and the dashboard's
callbacks by severity. Callbacks are made through the real phone flow (signed webhooks)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ivr import db
from ivr.store import audit
from ivr.store import callbacks as callback_store
from ivr.store.tables import Callback
from tests.conftest import Caller, Clock
from tests.fake_twilio import ACCOUNT, FakeTwilio
from tests.test_callbacks import CARACAS, ask_callback, queued, wait
from tests.test_console import HTTPS, add_user, client_for, log_in, token

ANALYST_PHONE = "+573001112233"


def register(client: FlaskClient, clock: Clock, n: int, joined: str, severity: str,
             asked: str | None = None, day: str = "2026-11-30") -> str:
    """Caller n queues at `joined` (Caracas; Monday 30 Nov unless told), asks a callback of
    `severity` at `asked`, keeping their caller ID; their case number."""
    caller = Caller(client)
    caller.sid = f"CA{n:032d}"
    case = queued(caller, clock, f"{day} {joined}", f"+58414111220{n}")
    wait(caller, 1, 0, 0)
    clock.set(f"{day} {asked or joined}", CARACAS)
    ask_callback(caller)
    caller.press("1")
    caller.press(severity)
    return case


def rows(app: Flask, *statuses: str) -> list[Callback]:
    """Callbacks in the list's order (open ones unless told)."""
    with app.app_context():
        return list(callback_store.listing(db.session(), statuses=statuses or
                                           ("pending", "claimed")))


def listed_ids(page: str) -> list[int]:
    """The callback ids of the list page, top to bottom."""
    return [int(n) for n in re.findall(r'<tr data-id="(\d+)"', page)]



@pytest.fixture
def app(make_app: Any, fake_twilio: FakeTwilio) -> Flask:
    """The app with its REST client pointed at the fake."""
    made: Flask = make_app(TWILIO_ACCOUNT_SID=ACCOUNT, TWILIO_API_BASE_URL=fake_twilio.url)
    return made


@pytest.fixture
def people(app: Flask) -> dict[str, FlaskClient]:
    """Two analysts of every line, a CCO-less analyst, a supervisor; each logged in."""
    runner = app.test_cli_runner()
    found = {}
    for name, role, extra in (("ana", "analyst", ()), ("beto", "analyst", ()),
                              ("certi", "analyst", ("--lines", "certicamara")),
                              ("sofia", "supervisor", ())):
        assert add_user(runner, name, role, "--phone", ANALYST_PHONE, *extra).exit_code == 0
        found[name] = client_for(app)
        assert log_in(found[name], name).status_code == 302
    return found


def claim(client: FlaskClient, line: str = "cco") -> Any:
    """Press "Tomar la siguiente" on the list page."""
    page = client.get("/console/callbacks").data
    return client.post(f"/console/callbacks/{line}/claim", data={"csrf_token": token(page)})


def post_form(client: FlaskClient, page_url: str, action: str, **data: str) -> Any:
    """Submit a form of `page_url` with the page's CSRF token."""
    page = client.get(page_url)
    assert page.status_code == 200, page.status_code
    return client.post(action, data={"csrf_token": token(page.data), **data})


def test_the_list_is_in_the_claims_order_with_due_times_and_overdue_marked(
        app: Flask, client: FlaskClient, people: dict[str, FlaskClient], clock: Clock) -> None:
    """Severity first, then who joined the queue first; due times in the line's hours; the
    claim takes the top one; later, an overdue callback is marked."""
    register(client, clock, 1, "10:00", "2")
    register(client, clock, 2, "10:05", "1", asked="10:06")
    register(client, clock, 3, "09:55", "2", asked="10:40")
    order = [r.id for r in rows(app)]
    assert [r.severity for r in rows(app)] == [1, 2, 2]
    page = people["ana"].get("/console/callbacks").data.decode()
    assert listed_ids(page) == order
    assert "30/11 11:06" in page  # severity 1 asked at 10:06: one business hour
    assert "vencida" not in page
    taken = claim(people["ana"])
    assert taken.headers["Location"].endswith(f"/console/callbacks/{order[0]}")
    mine = people["ana"].get(f"/console/callbacks/{order[0]}").data.decode()
    assert 'id="callback-status">claimed<' in mine and 'id="call-me"' in mine
    clock.set("2026-11-30 11:10", CARACAS)
    page = people["beto"].get("/console/callbacks").data.decode()
    assert "tomada por ana" in page and page.count("vencida") == 1
    with app.app_context():
        entry = audit.listing(db.session())[0]
    assert (entry.actor, entry.action, entry.target) == ("ana", "callback.claim",
                                                         f"callback:{order[0]}")


def test_an_analyst_of_another_line_can_neither_see_nor_claim(
        app: Flask, client: FlaskClient, people: dict[str, FlaskClient], clock: Clock) -> None:
    """Roles on the server: a Certicámara-only analyst gets 404 for CCO's callbacks."""
    register(client, clock, 1, "10:00", "1")
    [row] = rows(app)
    certi = people["certi"]
    assert "callbacks-cco" not in certi.get("/console/callbacks").data.decode()
    assert claim(certi, "cco").status_code == 404
    page = "/console/profile"
    for action in ("call", "release"):
        assert post_form(certi, page, f"/console/callbacks/{row.id}/{action}").status_code == 404
    assert post_form(certi, page, f"/console/callbacks/{row.id}/outcome",
                     outcome="cancel").status_code == 404
    assert certi.get(f"/console/callbacks/{row.id}").status_code == 404
    assert rows(app)[0].status == "pending"


def test_only_the_claimant_or_a_supervisor_tells_an_outcome(
        app: Flask, client: FlaskClient, people: dict[str, FlaskClient], clock: Clock,
        fake_twilio: FakeTwilio) -> None:
    """Another analyst cannot record, call or give back ana's callback; a supervisor can
    record its outcome."""
    register(client, clock, 1, "10:00", "1")
    claim(people["ana"])
    [row] = rows(app)
    url = f"/console/callbacks/{row.id}"
    beto = people["beto"]
    assert post_form(beto, url, url + "/outcome", outcome="reached").status_code == 403
    assert post_form(beto, url, url + "/outcome", outcome="cancel").status_code == 403
    assert post_form(beto, url, url + "/release").status_code == 403
    post_form(beto, url, url + "/call")
    assert fake_twilio.calls() == []
    assert "no está tomada por usted" in beto.get(url).data.decode()
    assert post_form(people["sofia"], url, url + "/outcome",
                     outcome="no-answer").status_code == 302
    [after] = rows(app)
    assert (after.status, after.attempts, after.last_outcome) == ("pending", 1, "no-answer")


def test_forms_without_their_csrf_token_are_refused(
        app: Flask, client: FlaskClient, people: dict[str, FlaskClient], clock: Clock) -> None:
    """Claim, call, outcome and release without the token: 400, nothing changed."""
    register(client, clock, 1, "10:00", "1")
    ana = people["ana"]
    assert ana.post("/console/callbacks/cco/claim").status_code == 400
    assert rows(app)[0].status == "pending"
    claim(ana)
    ident = rows(app)[0].id
    for action, data in (("call", {}), ("outcome", {"outcome": "reached"}), ("release", {})):
        assert ana.post(f"/console/callbacks/{ident}/{action}", data=data).status_code == 400
        assert ana.post(f"/console/callbacks/{ident}/{action}",
                        data={**data, "csrf_token": "forged"}).status_code == 400
    assert (rows(app)[0].status, rows(app)[0].attempts) == ("claimed", 1)


def test_outcomes_by_hand_keep_the_place_and_close_after_max_attempts(
        app: Flask, client: FlaskClient, people: dict[str, FlaskClient], clock: Clock) -> None:
    """No answer and busy put it back in its place; the third unreached call closes it as
    unreachable (CCO's max_attempts: 3); every change is in the audit log."""
    register(client, clock, 1, "10:00", "2")
    register(client, clock, 2, "10:10", "2")
    first, second = (r.id for r in rows(app))
    ana = people["ana"]
    for n, outcome in enumerate(("no-answer", "busy", "voicemail"), start=1):
        assert claim(ana).headers["Location"].endswith(f"/{first}")
        url = f"/console/callbacks/{first}"
        post_form(ana, url, url + "/outcome", outcome=outcome, note=f"intento {n}")
        if n < 3:
            assert [r.id for r in rows(app)] == [first, second]
    [gone] = rows(app, "unreachable")
    assert (gone.id, gone.attempts, gone.last_outcome) == (first, 3, "voicemail")
    claim(ana)
    post_form(ana, f"/console/callbacks/{second}", f"/console/callbacks/{second}/outcome",
              outcome="reached")
    assert rows(app) == [] and rows(app, "done")[0].id == second
    with app.app_context():
        actions = [e.action for e in audit.listing(db.session())
                   if e.target.startswith("callback:")]
    assert actions.count("callback.claim") == 4 and actions.count("callback.outcome") == 4
    assert "intento 2" in ana.get(f"/console/callbacks/{first}").data.decode()


def test_a_pending_callback_is_cancelled_and_a_claim_given_back(
        app: Flask, client: FlaskClient, people: dict[str, FlaskClient], clock: Clock) -> None:
    """Any analyst of the line cancels a pending one; giving back a claim uncounts it."""
    register(client, clock, 1, "10:00", "2")
    register(client, clock, 2, "10:10", "3")
    first, second = (r.id for r in rows(app))
    claim(people["ana"])
    url = f"/console/callbacks/{first}"
    assert post_form(people["ana"], url, url + "/release").status_code == 302
    assert (rows(app)[0].id, rows(app)[0].status, rows(app)[0].attempts) == (first, "pending", 0)
    url = f"/console/callbacks/{second}"
    post_form(people["beto"], url, url + "/outcome", outcome="cancel")
    assert rows(app, "cancelled")[0].id == second


def test_call_me_then_the_customer_lands_on_the_callback(
        app: Flask, client: FlaskClient, people: dict[str, FlaskClient], clock: Clock,
        fake_twilio: FakeTwilio) -> None:
    """The fake REST API is asked to ring the analyst with the line's number; the bridge
    whispers the callback and dials its number; no answer keeps its place, a voicemail too,
    a person reached closes it."""
    case = register(client, clock, 1, "10:00", "1")
    register(client, clock, 2, "10:20", "1")
    first, second = (r.id for r in rows(app))
    ana, twilio = people["ana"], Caller(app.test_client())
    twilio.sid = "CA" + "9" * 32

    def call_back(dial_status: str, told: str | None = None) -> Any:
        """Claim, press call, then Twilio's requests: bridge, dial action (and the answer)."""
        assert claim(ana).headers["Location"].endswith(f"/{first}")
        url = f"/console/callbacks/{first}"
        post_form(ana, url, url + "/call")
        assert "Llamando a su teléfono" in ana.get(url).data.decode()
        form = fake_twilio.calls()[-1]["form"]
        assert (form["To"], form["From"]) == (ANALYST_PHONE, "+582124713239")
        bridge = twilio.request(form["Url"].removeprefix(HTTPS))
        assert "devolver una llamada" in bridge.text and ", ".join(case) in bridge.text
        assert "una falla crítica" in bridge.text
        assert bridge.numbers == [("+584141112201", None)]
        assert bridge.one("Dial").get("callerId") == "+582124713239"
        after = twilio.dial_ends(dial_status)
        if told is not None:
            assert "buzón de voz, marque 2" in after.text
            after = twilio.press(told) if told else twilio.silence()
        twilio.request(form["StatusCallback"].removeprefix(HTTPS),
                       CallStatus="completed")
        return after

    assert "Resultado guardado" in call_back("no-answer").text
    assert [(r.id, r.status, r.attempts) for r in rows(app)] == [(first, "pending", 1),
                                                                  (second, "pending", 0)]
    call_back("completed", told="2")
    assert (rows(app)[0].id, rows(app)[0].attempts, rows(app)[0].last_outcome) == (
        first, 2, "voicemail")
    call_back("completed", told="")  # silence: the usual, reached
    assert [r.id for r in rows(app)] == [second]
    page = ana.get(f"/console/callbacks/{first}").data.decode()
    assert 'id="callback-status">done<' in page and page.count('class="customer-status"') == 3
    with app.app_context():
        sources = [e.after for e in audit.listing(db.session())
                   if e.action == "callback.outcome"]
    assert len(sources) == 3 and all('"twilio"' in (s or "") for s in sources)
    assert "callback-completed" in ana.get(f"/console/cases/{case}").data.decode()


def test_an_analyst_who_does_not_answer_gives_the_claim_back(
        app: Flask, client: FlaskClient, people: dict[str, FlaskClient], clock: Clock,
        fake_twilio: FakeTwilio) -> None:
    """The analyst's own phone does not answer: the customer was never dialled, so the
    callback is back in its place with the attempt uncounted; a late report changes nothing."""
    register(client, clock, 1, "10:00", "1")
    [row] = rows(app)
    ana = people["ana"]
    claim(ana)
    url = f"/console/callbacks/{row.id}"
    post_form(ana, url, url + "/call")
    form = fake_twilio.calls()[-1]["form"]
    twilio = Caller(app.test_client())
    twilio.request(form["StatusCallback"].removeprefix(HTTPS),
                   CallStatus="no-answer")
    [after] = rows(app)
    assert (after.status, after.attempts, after.claimed_by) == ("pending", 0, None)
    late = twilio.request(form["Url"].removeprefix(HTTPS))
    assert late.all("Dial") == [] and "No hay llamadas pendientes" in late.text


def test_the_queues_now_show_who_waits_how_long_with_which_case(
        app: Flask, client: FlaskClient, people: dict[str, FlaskClient], clock: Clock) -> None:
    """A caller who opened a case and waits is listed with the minutes and the case; once
    they leave the queue, they are not."""
    caller = Caller(client)
    case = queued(caller, clock, "2026-11-30 10:00", "+584141112299")
    wait(caller, 1, 0, 0)
    clock.set("2026-11-30 10:07", CARACAS)
    page = people["ana"].get("/console/queues").data.decode()
    assert case in page and "centro_soporte" in page and "+58 414-1112299" in page
    assert re.search(r'class="minutes">7<', page)
    assert case not in people["certi"].get("/console/queues").data.decode()
    caller.queue_ends("hangup")
    assert "Nadie espera" in people["ana"].get("/console/queues").data.decode()


def table_rows(page: str, table_id: str) -> list[list[str]]:
    """The cells' text of each row of a table, header left out."""
    table = page.split(f'id="{table_id}"')[1].split("</table>")[0]
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>",
                                                                          row, re.S)]
            for row in re.findall(r"<tr data-severity.*?</tr>", table, re.S)]


def test_the_dashboard_counts_callbacks_by_severity_against_their_targets(
        app: Flask, client: FlaskClient, people: dict[str, FlaskClient], clock: Clock) -> None:
    """Monday: two severity-1 reached in 30 and 80 minutes (the second after its hour), one
    severity 2 still open past its due time (16:20, in business hours); last Thursday one
    severity 3, reached in 30 minutes: in the 7 days, not today."""
    ana = people["ana"]

    def reached_at(at: str, day: str = "2026-11-30") -> None:
        """ana takes the next callback at `at` and reached the customer."""
        clock.set(f"{day} {at}", CARACAS)
        ident = int(claim(ana).headers["Location"].rsplit("/", 1)[1])
        url = f"/console/callbacks/{ident}"
        post_form(ana, url, url + "/outcome", outcome="reached")

    register(client, clock, 9, "10:00", "3", day="2026-11-26")
    reached_at("10:30", day="2026-11-26")
    register(client, clock, 1, "10:00", "1")
    register(client, clock, 2, "10:10", "1")
    register(client, clock, 3, "10:20", "2")
    reached_at("10:30")
    reached_at("11:30")
    clock.set("2026-11-30 17:00", CARACAS)
    assert people["ana"].get("/console/dashboard").status_code == 403
    page = people["sofia"].get("/console/dashboard").data.decode()
    today = table_rows(page, "callbacks-today")
    assert [r[1:] for r in today] == [
        ["1 · una falla crítica y no puede operar", "1 h hábiles", "2", "2", "55 min",
         "1 h 20 min", "1", "0"],
        ["2 · una falla que afecta la operación", "4 h hábiles", "1", "0", "—", "—", "0", "1"],
        ["3 · una consulta o un requerimiento", "14 h hábiles", "0", "0", "—", "—", "0", "0"]]
    week = table_rows(page, "callbacks-week")
    assert week[2][3:7] == ["1", "1", "30 min", "30 min"] and week[0][3:5] == ["2", "2"]
