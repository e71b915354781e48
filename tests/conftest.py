"""Fixtures: a fresh app per test with an injected clock, and a caller that talks like Twilio."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from twilio.request_validator import RequestValidator

from ivr.admin.simulator import call_parameters, send_as_twilio
from tests.fake_twilio import FakeTwilio, serving

TOKEN = "test-auth-token"
BASE = "http://localhost"
ROOT_DIR = Path(__file__).resolve().parents[1]
SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).parent / "data" / "twiml-voice.xsd")))
CERTICAMARA = "+576017442727"
CCO = "+582124713239"
CCO_SECOND = "+582127143934"
# Where Twilio keeps a recording (the only kind of RecordingUrl the webhooks store).
RECORDINGS = "https://api.twilio.com/2010-04-01/Accounts/AC" + "1" * 32 + "/Recordings/"


def recording(tail: str) -> str:
    """A Twilio recording URL whose SID ends in `tail` (hex digits)."""
    return RECORDINGS + "RE" + tail.rjust(32, "0")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from each test, not from the shell that runs the tests."""
    for name in list(os.environ):
        if name.startswith(("IVR_", "TWILIO_", "FLASK_")) or name in {
            "PUBLIC_BASE_URL", "TRUSTED_PROXIES", "DATABASE_URL"
        }:
            monkeypatch.delenv(name)


class Clock:
    """A clock the test sets; the app reads it for every decision.

    Like production's clock (`ivr.config.system_clock`) it answers in UTC, so a command that
    prints the clock's time without converting it to the line's zone shows the wrong hour.
    """

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # 10:00 in Bogotá

    def __call__(self) -> datetime:
        """The time the test set, in UTC."""
        return self.now

    def set(self, text: str, zone: str) -> None:
        """Set local time `text` ('2026-12-01 10:00') in time zone `zone`."""
        self.now = datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


class Monotonic:
    """The monotonic clock the app measures intervals with (override cache, menu reloads):
    it stands still until a test moves it, so no test ever sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        """Seconds, as time.monotonic() counts them."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass."""
        self.now += seconds


class Twiml:
    """A parsed TwiML response, valid against the schema (checked when it is made)."""

    def __init__(self, body: bytes) -> None:
        self.root = etree.fromstring(body)
        SCHEMA.assertValid(self.root)

    def all(self, tag: str) -> list[Any]:
        """Every element named `tag`, anywhere."""
        return list(self.root.iter(tag))

    def one(self, tag: str) -> Any:
        """The single element named `tag`."""
        found = self.all(tag)
        assert len(found) == 1, f"expected one <{tag}>, got {len(found)}: {self}"
        return found[0]

    @property
    def text(self) -> str:
        """Everything said, in order, as one string."""
        return " ".join(e.text or "" for e in self.all("Say"))

    @property
    def verbs(self) -> list[str]:
        """The top-level verbs, in order."""
        return [e.tag for e in self.root]

    @property
    def numbers(self) -> list[tuple[str, str | None]]:
        """The numbers a <Dial> rings, with the digits sent once they answer."""
        return [(e.text, e.get("sendDigits")) for e in self.all("Number")]

    def __str__(self) -> str:
        """The document, for assertion messages."""
        return etree.tostring(self.root, encoding="unicode")


class CheckedClient(FlaskClient):
    """The test client of every test app: each TwiML document it receives is checked against
    the schema whatever its status, so the simulator (`flask ivr call`) and the fault harness
    see only valid documents, as the `Caller` does; and a webhook (under /voice) answers
    TwiML unless it refuses the request (403)."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        """Make the request; check what came back."""
        response = super().open(*args, **kwargs)
        if response.mimetype in ("text/xml", "application/xml"):
            SCHEMA.assertValid(etree.fromstring(response.get_data()))
        elif response.request.path.startswith("/voice") and response.status_code != 403:
            raise AssertionError(f"{response.request.path} answered {response.status_code} "
                                 f"{response.mimetype!r}, not TwiML")
        return response


class Caller:
    """Places calls and presses keys the way Twilio does: signed, following the TwiML."""

    def __init__(self, client: FlaskClient, token: str = TOKEN) -> None:
        self.client = client
        self.validator = RequestValidator(token)
        self.last: Twiml | None = None
        self.queued: Twiml | None = None  # the document that put the caller in a queue
        self.sid = "CA" + "0" * 32
        self.call_params: dict[str, str] = {}  # Twilio repeats From and To on every request

    def post(self, url: str, params: dict[str, str], signature: str | None = None,
             headers: dict[str, str] | None = None) -> Any:
        """POST `params` to `url`, signed for `BASE + url` unless a signature is given."""
        return send_as_twilio(self.client, self.validator, "POST", url, BASE + url, params,
                              signature, headers)

    def request(self, url: str, **params: str) -> Twiml:
        """A signed webhook call that must answer 200 with valid TwiML."""
        leg = call_parameters(self.sid, self.call_params.get("From", ""),
                              self.call_params.get("To", ""))
        params = {**{k: v for k, v in leg.items() if v}, **params}
        response = self.post(url, params)
        assert response.status_code == 200, response.data
        assert response.mimetype == "text/xml"
        self.last = Twiml(response.data)
        if self.last.all("Enqueue"):
            self.queued = self.last
        return self.last

    def call(self, to: str, caller: str = "+573001234567") -> Twiml:
        """An incoming call to `to`."""
        self.call_params = {"To": to, "From": caller}
        return self.request("/voice", Direction="inbound")

    def press(self, digits: str) -> Twiml:
        """Press keys in the current <Gather>."""
        assert self.last is not None
        action = self.last.one("Gather").get("action")
        return self.request(action, Digits=digits)

    def silence(self) -> Twiml:
        """Press nothing: the <Gather> times out and Twilio follows the <Redirect>."""
        assert self.last is not None
        return self.request(self.last.one("Redirect").text)

    def dial_ends(self, status: str, bridged: str | None = None) -> Twiml:
        """The current <Dial> ends with DialCallStatus `status` (and DialBridged, if given)."""
        assert self.last is not None
        extra = {"DialBridged": bridged} if bridged is not None else {}
        return self.request(self.last.one("Dial").get("action"), DialCallStatus=status,
                            DialCallSid="CA" + "4" * 32, **extra)

    def screened(self, digits: str | None) -> tuple[Twiml, Twiml]:
        """The person called hears the whisper and presses `digits` (None: nothing)."""
        assert self.last is not None
        url = self.last.all("Number")[0].get("url")
        child = {"CallSid": "CA" + "5" * 32, "ParentCallSid": self.sid}
        whisper = Twiml(self.post(url, child).data)
        action = whisper.one("Gather").get("action")
        params = {**child, "Digits": digits} if digits is not None else child
        return whisper, Twiml(self.post(action, params).data)

    def queue_ends(self, result: str) -> Twiml:
        """The current <Enqueue> ends with QueueResult `result`."""
        assert self.queued is not None
        return self.request(self.queued.one("Enqueue").get("action"), QueueResult=result)

    def records(self, url: str = recording("1"), seconds: int = 12) -> Twiml:
        """The caller spoke after the beep; Twilio posts the <Record> action."""
        assert self.last is not None
        action = self.last.one("Record").get("action")
        return self.request(action, RecordingUrl=url, RecordingDuration=str(seconds),
                            RecordingSid="RE" + "3" * 32)

    def says(self, url: str, *sentences: str) -> None:
        """Twilio's real-time transcription posts each sentence said, then that it stopped."""
        for i, sentence in enumerate(sentences, start=1):
            data = json.dumps({"transcript": sentence, "confidence": 0.93})
            response = self.post(url, {"CallSid": self.sid, "TranscriptionSid": "GT" + "7" * 32,
                                       "TranscriptionEvent": "transcription-content",
                                       "LanguageCode": "es-MX", "Track": "inbound_track",
                                       "Final": "true", "SequenceId": str(i),
                                       "TranscriptionData": data})
            assert response.status_code == 200 and Twiml(response.data).verbs == []
        stopped = self.post(url, {"CallSid": self.sid, "TranscriptionEvent":
                                  "transcription-stopped", "SequenceId": str(len(sentences) + 1)})
        assert stopped.status_code == 200

    def waits(self, seconds: int) -> Twiml:
        """Twilio asks the queue's waitUrl what to play after `seconds` in the queue."""
        assert self.queued is not None
        url = self.queued.one("Enqueue").get("waitUrl")
        return self.request(url, QueueTime=str(seconds), QueueSid="QU" + "2" * 32)


@pytest.fixture
def clock() -> Clock:
    """The injected clock (Tuesday 2026-12-01 10:00 in Bogotá unless a test sets it)."""
    return Clock()


@pytest.fixture
def monotonic() -> Monotonic:
    """The injected monotonic clock (still until the test advances it)."""
    return Monotonic()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A fresh SQLite database for this test."""
    return f"sqlite:///{tmp_path / 'ivr.sqlite3'}"


@pytest.fixture
def make_app(clock: Clock, monotonic: Monotonic, database_url: str) -> Iterator[Any]:
    """Create apps with extra settings (the clock, token and database are the test's)."""
    from ivr import create_app

    made: list[Flask] = []
    base = {"TESTING": True, "TWILIO_AUTH_TOKEN": TOKEN, "CLOCK": clock, "MONOTONIC": monotonic,
            "DATABASE_URL": database_url, "IVR_OVERRIDE_TTL": 0, "IVR_DB_RETRY_SECONDS": 0,
            "IVR_EVENT_FLUSH_SECONDS": 0, "IVR_NOTE_FLUSH_SECONDS": 0,
            "IVR_LOG_FLUSH_SECONDS": 0,
            "SECRET_KEY": "test-secret-key"}

    def make(**config: Any) -> Flask:
        """One app; its database connections are closed when the test ends."""
        made.append(create_app({**base, **config}))
        made[-1].test_client_class = CheckedClient
        return made[-1]

    yield make
    for app in made:
        for name in ("ivr.call_events", "ivr.look_up_notes"):  # no writer outlives its test
            buffer = app.extensions[name]
            buffer.rows.clear()
            buffer.close()
        app.extensions["ivr.engine"].dispose()


@pytest.fixture
def app(make_app: Any) -> Flask:
    """A fresh app serving the shipped menus, with a known token, the test's clock and DB."""
    made: Flask = make_app()
    return made


@pytest.fixture
def runner(app: Flask) -> Any:
    """A runner for the app's `flask` commands."""
    return app.test_cli_runner()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def caller(client: FlaskClient) -> Caller:
    """A signed caller talking to the app like Twilio."""
    return Caller(client)


def query(**params: str) -> str:
    """A query string, for building webhook URLs by hand."""
    return urlencode(params)


POSTGRES_ENV = "IVR_TEST_POSTGRES_URL"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A clean, migrated database of each kind: SQLite here, PostgreSQL where CI gives one."""
    from ivr import db

    if request.param == "sqlite":
        url = db.database_url(f"sqlite:///{tmp_path / 'store.sqlite3'}", str(tmp_path))
    else:
        configured = os.environ.get(POSTGRES_ENV) or _saved_postgres_url
        if not configured:
            pytest.skip(f"{POSTGRES_ENV} is not set (CI sets it; see .ci/run)")
        url = db.database_url(configured, str(tmp_path))
    engine = db.make_engine(url)
    db.drop_schema(engine)
    db.upgrade(engine)
    engine.dispose()
    return url




# The autouse fixture above clears IVR_* from the environment; keep the PostgreSQL URL for
# the store tests, read once when the tests start.
_saved_postgres_url = os.environ.get(POSTGRES_ENV)


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    """Twilio's REST API, faked on a loopback port; it records what it receives."""
    fake = FakeTwilio(TOKEN)
    with serving(fake) as url:
        fake.url = url
        yield fake
