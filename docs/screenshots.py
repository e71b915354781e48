"""Screenshots of every console page for docs/console.md, taken from the real app with
seeded data (a scratch SQLite database, a scripted day of calls through the signed webhooks).

    .venv/bin/python -m docs.screenshots      # writes docs/console/*.png

Needs Debian's Chromium at /usr/bin/chromium (Playwright drives it; nothing is downloaded).
"""

from __future__ import annotations

import sys
import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "console"
TOKEN = "screenshots-token"
PASSWORD = "una clave larga"
PAGES = [("login", "/console/", None), ("inicio", "/console/", "admin"),
         ("casos", "/console/cases", "admin"), ("caso", "CASE", "admin"),
         ("perdidas", "/console/missed", "admin"),
         ("devoluciones", "/console/callbacks", "admin"), ("devolucion", "CLAIM", "admin"),
         ("colas", "/console/queues", "admin"), ("lineas", "/console/lines", "admin"),
         ("turno", "/console/oncall", "admin"), ("diagrama", "/console/diagrams/cco", "admin"),
         ("tablero", "/console/dashboard", "admin"), ("usuarios", "/console/users", "admin"),
         ("auditoria", "/console/audit", "admin")]


class Clock:
    """The seeded day's time (the app reads it for every decision)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=ZoneInfo("America/Caracas"))

    def __call__(self) -> datetime:
        """The time set."""
        return self.now


def post(client: FlaskClient, path: str, **params: str) -> str:
    """A webhook request signed like Twilio's; the TwiML it answered."""
    params = {"AccountSid": "AC" + "1" * 32, **params}
    signature = RequestValidator(TOKEN).compute_signature("http://localhost" + path, params)
    response = client.post(path, data=params, headers={"X-Twilio-Signature": signature})
    return response.get_data(as_text=True)


def seed(app: object, clock: Clock) -> str:
    """Accounts, a day of calls on both lines, a case, a voice message; the case's number."""
    import re

    runner = app.test_cli_runner()  # type: ignore[attr-defined]
    for name, role in (("admin", "admin"), ("maria", "analyst"), ("jose", "supervisor")):
        runner.invoke(args=["ivr", "users", "add", name, "--role", role, "--phone",
                            "+584141112233"], input=PASSWORD + "\n")
    client = app.test_client()  # type: ignore[attr-defined]
    number = ""
    for n, (hour, to, keys) in enumerate([(9, "+582124713239", "1"), (9, "+576017442727", "25"),
                                          (10, "+576017442727", "3"), (11, "+582124713239", "9"),
                                          (11, "+576017442727", "23"), (12, "+582124713239", "1")]):
        clock.now = clock.now.replace(hour=hour, minute=7 * n)
        sid = f"CA{n:032d}"
        base = {"CallSid": sid, "To": to, "From": f"+58412123456{n}"}
        answer = post(client, "/voice", **base)
        action = re.search(r'<Gather[^>]*action="([^"]+)"', answer)
        if action:
            said = post(client, action.group(1).replace("&amp;", "&"), Digits=keys, **base)
            found = re.search(r"(\d(?:, \d){7})", said)
            number = number or (found.group(1).replace(", ", "") if found else "")
    seed_queue(client, clock)
    return number


def seed_queue(client: FlaskClient, clock: Clock) -> None:
    """CCO callers who queue after opening a case: three ask a callback (severities 2, 1, 3),
    one still waits; the afternoon comes, and the severity 1 is past its due time."""
    from tests.conftest import Caller

    for n, (hour, minute, severity) in enumerate(((11, 10, "2"), (11, 20, "1"), (11, 30, "3"),
                                                  (14, 15, None))):
        clock.now = clock.now.replace(hour=hour, minute=minute)
        caller = Caller(client, TOKEN)
        caller.sid = f"CA{n + 50:032d}"
        caller.call("+582124713239", caller=f"+58414555000{n}")
        caller.press("1")
        caller.silence()
        caller.records()
        caller.waits(0)
        if severity is None:
            break
        caller.press("1")
        caller.queue_ends("leave")
        caller.press("1")
        caller.press(severity)
    clock.now = clock.now.replace(hour=14, minute=25)


def main() -> int:
    """Seed a scratch app, serve it, and photograph each page."""
    from playwright.sync_api import sync_playwright

    from ivr import create_app
    from tests.fake_twilio import serving

    if not Path("/usr/bin/chromium").exists():
        print("needs /usr/bin/chromium (apt-get install chromium)", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    clock = Clock()
    with tempfile.TemporaryDirectory() as scratch:
        app = create_app({"DATABASE_URL": f"sqlite:///{scratch}/screens.sqlite3",
                          "TWILIO_AUTH_TOKEN": TOKEN, "CLOCK": clock, "SECRET_KEY": "screens",
                          "IVR_EVENT_FLUSH_SECONDS": 0, "IVR_OVERRIDE_TTL": 0})
        number = seed(app, clock)
        with serving(app) as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                      "--disable-background-networking", "--disable-component-update",
                      "--disable-sync"])
            for name, path, who in PAGES:
                page = browser.new_context(viewport={"width": 1200, "height": 800}).new_page()
                if who:
                    page.goto(url + "/console/")
                    page.fill("input[name=username]", who)
                    page.fill("input[name=password]", PASSWORD)
                    page.click("button[type=submit]")
                if path == "CLAIM":  # take the next callback: its page
                    page.goto(url + "/console/callbacks")
                    page.click("form[name=claim-cco] button")
                else:
                    page.goto(url + (f"/console/cases/{number}" if path == "CASE" else path))
                page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
                print(f"docs/console/{name}.png")
            browser.close()
        app.extensions["ivr.engine"].dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
