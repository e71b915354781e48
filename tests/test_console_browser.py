"""The console in a real browser: Playwright driving Debian's Chromium against the app served
on a loopback port, with a local fake of Twilio's REST API.

Skipped (saying why) where /usr/bin/chromium is missing; .ci/run installs it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import CCO, CERTICAMARA, Caller, Clock
from tests.fake_twilio import ACCOUNT, FakeTwilio, serving

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "una clave larga"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="no /usr/bin/chromium (CI installs Debian's chromium)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()



@pytest.fixture
def site(make_app: Any, fake_twilio: FakeTwilio) -> Iterator[tuple[Flask, str]]:
    """The app on a real server on 127.0.0.1, its Twilio client pointed at the fake, with an
    analyst (with a phone), a supervisor and an admin."""
    app = make_app(TWILIO_ACCOUNT_SID=ACCOUNT, TWILIO_API_BASE_URL=fake_twilio.url)
    runner = app.test_cli_runner()
    for role in ("analyst", "supervisor", "admin"):
        result = runner.invoke(args=["ivr", "users", "add", role, "--role", role,
                                     "--phone", "+573001112233"], input=PASSWORD + "\n")
        assert result.exit_code == 0, result.output
    with serving(app) as url:
        yield app, url


def open_as(browser: Any, url: str, who: str) -> Any:
    """A fresh browser context logged in as `who` through the login form."""
    page = browser.new_context(locale="es-CO").new_page()
    page.goto(url + "/console/")
    page.fill("input[name=username]", who)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/console/")
    return page


def test_each_role_logs_in_and_is_refused_where_its_role_ends(browser: Any,
                                                              site: tuple[Flask, str]) -> None:
    """Analyst, supervisor and admin see their pages; the next role up's are refused."""
    _, url = site
    analyst = open_as(browser, url, "analyst")
    assert "Casos" in analyst.inner_text("nav") and "Usuarios" not in analyst.inner_text("nav")
    assert analyst.goto(url + "/console/lines").status == 403
    supervisor = open_as(browser, url, "supervisor")
    assert supervisor.goto(url + "/console/lines").status == 200
    assert supervisor.goto(url + "/console/users").status == 403
    admin = open_as(browser, url, "admin")
    assert admin.goto(url + "/console/users").status == 200
    assert "supervisor" in admin.inner_text("table")
    wrong = browser.new_context().new_page()
    wrong.goto(url + "/console/")
    wrong.fill("input[name=username]", "admin")
    wrong.fill("input[name=password]", "no es la clave")
    wrong.click("button[type=submit]")
    assert "incorrectos" in wrong.inner_text("main")


def test_a_form_without_its_csrf_token_is_refused(browser: Any,
                                                   site: tuple[Flask, str]) -> None:
    """The browser's own session, the same form without its token: 400."""
    _, url = site
    page = open_as(browser, url, "supervisor")
    page.goto(url + "/console/lines")
    page.evaluate("document.querySelector('form[name=force-cco] input[name=csrf_token]')"
                  ".remove()")
    page.select_option("form[name=force-cco] select[name=state]", "closed")
    page.fill("form[name=force-cco] input[name=until]", "2026-12-02T08:00")
    page.fill("form[name=force-cco] input[name=reason]", "sin token")
    with page.expect_navigation() as navigation:
        page.click("form[name=force-cco] button[type=submit]")
    assert navigation.value.status == 400
    page.goto(url + "/console/lines")
    assert "sin token" not in page.inner_text("main")


def test_a_supervisor_forces_a_line_closed_and_the_phone_answers_closed(
        browser: Any, site: tuple[Flask, str], clock: Clock) -> None:
    """Closing CCO from the console: a call in business hours hears that it is closed."""
    app, url = site
    clock.set("2026-12-01 10:00", "America/Caracas")
    page = open_as(browser, url, "supervisor")
    page.goto(url + "/console/lines")
    page.select_option("form[name=force-cco] select[name=state]", "closed")
    page.fill("form[name=force-cco] input[name=until]", "2026-12-02T08:00")
    page.fill("form[name=force-cco] input[name=reason]", "corte de energía")
    page.click("form[name=force-cco] button[type=submit]")
    section = page.inner_text("#line-cco")
    assert "cerrada" in section and "corte de energía" in section
    caller = Caller(app.test_client())
    caller.call(CCO)
    assert "no estamos atendiendo" in caller.last.text or "fuera del horario" in caller.last.text
    page.goto(url + "/console/audit")
    assert "override.add" in page.inner_text("table")


def test_an_analyst_calls_back_closes_the_case_and_the_outcome_lands(
        browser: Any, site: tuple[Flask, str], fake_twilio: FakeTwilio, clock: Clock) -> None:
    """From a case: the fake REST API receives the call to the analyst's phone with the line
    as caller ID; the bridge whispers the case and dials the customer; Twilio's callbacks land
    on the case; the analyst closes it."""
    app, url = site
    clock.set("2026-12-01 10:00", "America/Caracas")
    caller = Caller(app.test_client())
    caller.call(CCO, caller="+584121234567")
    caller.press("1")
    number = re.search(r"(\d(?:, \d){7})", caller.last.text).group(1).replace(", ", "")
    page = open_as(browser, url, "analyst")
    page.goto(url + "/console/cases")
    page.fill("input[name=q]", "4121234567")
    page.click("form[method=get] button")
    page.click(f"text={number}")
    page.click("#call-me")
    assert "Llamando a su teléfono" in page.inner_text("main")
    placed = fake_twilio.calls()
    assert len(placed) == 1
    form = placed[0]["form"]
    assert (form["To"], form["From"]) == ("+573001112233", "+582124713239")
    assert placed[0]["path"] == f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
    bridge_path = form["Url"].removeprefix(url)
    twilio = Caller(app.test_client())
    whisper = twilio.request(bridge_path)
    assert ", ".join(number) in whisper.text
    assert whisper.numbers == [("+584121234567", None)]
    assert whisper.one("Dial").get("callerId") == "+582124713239"
    twilio.request(whisper.one("Dial").get("action"), DialCallStatus="completed")
    twilio.request(form["StatusCallback"].removeprefix(url), CallStatus="completed")
    page.reload()
    assert page.inner_text(".customer-status") == "completed"
    assert page.inner_text(".call-status") == "completed"
    assert "callback-completed" in page.inner_text("main")
    page.select_option("select[name=status]", "closed")
    page.fill("textarea[name=note]", "resuelto con el cliente")
    page.click("form[action$='/status'] button")
    assert page.inner_text("#case-status") == "closed"


def test_the_dashboard_after_a_scripted_day(browser: Any, site: tuple[Flask, str],
                                            clock: Clock) -> None:
    """A day of calls through the webhooks, then the dashboard's figures and charts."""
    app, url = site
    script = [("08:05", CERTICAMARA, "25", "hangup"), ("08:40", CERTICAMARA, "23", None),
              ("09:10", CERTICAMARA, "2", None), ("10:30", CCO, "9", None)]
    for n, (at, number, keys, queue) in enumerate(script):
        clock.set(f"2026-12-01 {at}", "America/Bogota")
        caller = Caller(app.test_client())
        caller.sid = f"CA{n:032d}"
        caller.call(number)
        caller.press(keys)
        if queue:
            caller.queue_ends(queue)
        if number == CCO:
            caller.dial_ends("completed", "true")
    clock.set("2026-12-01 18:00", "America/Bogota")
    page = open_as(browser, url, "supervisor")
    page.goto(url + "/console/dashboard")
    assert page.inner_text("#calls-today") == "4"
    assert page.inner_text("#left-menu") == "1"
    assert page.inner_text("#p1") == "1 / 1"
    per_line = page.inner_text("#per-line")
    assert "certicamara\t3\t3" in per_line and "cco\t1\t1" in per_line
    assert page.locator(".chart svg").count() == 3


def test_an_analyst_takes_the_gravest_callback_calls_back_and_it_leaves_the_list(
        browser: Any, site: tuple[Flask, str], fake_twilio: FakeTwilio, clock: Clock) -> None:
    """Three callers ask callbacks through the phone flow (severities 2, 1, 2); the list shows
    them in the claim's order; "Tomar la siguiente" gives the severity 1; the callback call
    reaches the fake REST API; its dial action and status callback land on the callback, which
    leaves the list while the others keep their places."""
    from tests.test_console_callbacks import register, rows

    app, url = site
    for n, (joined, severity) in enumerate((("10:00", "2"), ("10:05", "1"), ("09:55", "2"))):
        register(app.test_client(), clock, n, joined, severity, asked="10:10")
    order = [r.id for r in rows(app)]
    page = open_as(browser, url, "analyst")
    page.goto(url + "/console/callbacks")
    listed = page.locator("#callbacks-cco tr[data-id]")
    assert [int(listed.nth(i).get_attribute("data-id")) for i in range(3)] == order
    assert [listed.nth(i).get_attribute("data-severity") for i in range(3)] == ["1", "2", "2"]
    page.click("form[name=claim-cco] button")
    assert page.inner_text("#callback-status") == "claimed"
    assert "una falla crítica" in page.inner_text("main")
    page.click("#call-me")
    assert "Llamando a su teléfono" in page.inner_text("main")
    [placed] = fake_twilio.calls()
    form = placed["form"]
    assert (form["To"], form["From"]) == ("+573001112233", "+582124713239")
    twilio = Caller(app.test_client())
    bridge = twilio.request(form["Url"].removeprefix(url))
    assert bridge.numbers == [("+584141112201", None)]
    asked = twilio.request(bridge.one("Dial").get("action"), DialCallStatus="completed")
    twilio.request(asked.one("Gather").get("action"), Digits="1")
    twilio.request(form["StatusCallback"].removeprefix(url), CallStatus="completed")
    page.reload()
    assert page.inner_text("#callback-status") == "done"
    assert page.inner_text(".customer-status") == "completed"
    page.goto(url + "/console/callbacks")
    listed = page.locator("#callbacks-cco tr[data-id]")
    assert [int(listed.nth(i).get_attribute("data-id")) for i in range(2)] == order[1:]
    assert listed.count() == 2
