"""Hostile traffic at the web layer: oversized and malformed bodies, odd signature headers,
unsigned unknown paths, log injection, files that are not recordings, gunicorn's settings."""

from __future__ import annotations

import io
import logging
import runpy
import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator

from ivr import create_app
from ivr.web import signature
from tests.conftest import BASE, CERTICAMARA, ROOT_DIR, TOKEN, Caller, Twiml

SIGNED_PARAMS = {"CallSid": "CA" + "0" * 32, "To": CERTICAMARA, "From": "+573001234567"}


@pytest.fixture
def hmacs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every signature computed, by URL: the test's (Twilio's library) and the app's own."""
    computed: list[str] = []
    original = RequestValidator.compute_signature
    app_check = signature.signature_matches

    def counting(self: RequestValidator, uri: str, params: Any, algorithm: Any = None) -> str:
        """Count, then compute."""
        computed.append(uri)
        return original(self, uri, params, algorithm)

    def app_counting(token: bytes, url: str, *args: Any) -> bool:
        """Count the app's HMAC, then compute it."""
        computed.append(url)
        return app_check(token, url, *args)

    monkeypatch.setattr(RequestValidator, "compute_signature", counting)
    monkeypatch.setattr(signature, "signature_matches", app_counting)
    return computed


def _no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing logged with a traceback, and no log message spans two lines."""
    assert not [r for r in caplog.records if r.exc_info], caplog.text
    assert not [r for r in caplog.records if "\n" in r.getMessage()], caplog.text


def test_a_body_over_the_limit_gets_413_twiml_unread_and_no_traceback(
    client: FlaskClient, hmacs: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    """1 MB of fields (116,000 of them) under /voice: 413 with a spoken apology, no HMAC."""
    body = "&".join(f"f{i}=x" for i in range(116_000)).encode()
    response = client.post("/voice", data=body, headers={
        "X-Twilio-Signature": "A" * 27 + "=",
        "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    assert "problema técnico" in Twiml(response.data).text
    assert hmacs == []
    _no_tracebacks(caplog)


def test_a_chunked_body_over_the_limit_is_stopped_while_read(client: FlaskClient) -> None:
    """No Content-Length (chunked): the stream is cut at the limit; 413 TwiML, never 5xx."""
    body = b"&".join(b"f%d=x" % i for i in range(40_000))
    response = client.post("/voice", input_stream=io.BytesIO(body), headers={
        "X-Twilio-Signature": "A" * 27 + "=", "Transfer-Encoding": "chunked",
        "Content-Type": "application/x-www-form-urlencoded"},
        environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 413
    Twiml(response.data)


def test_the_limit_is_a_setting(make_app: Any) -> None:
    """IVR_MAX_BODY_BYTES: a small limit refuses an ordinary call's parameters."""
    app: Flask = make_app(IVR_MAX_BODY_BYTES=64)
    response = Caller(app.test_client()).post("/voice", {**SIGNED_PARAMS, "Pad": "x" * 100})
    assert response.status_code == 413


def test_a_signed_call_computes_one_signature(caller: Caller, hmacs: list[str]) -> None:
    """Every webhook is checked with exactly one HMAC: the test signs once, the app once."""
    caller.call(CERTICAMARA)
    hmacs.clear()
    caller.press("2")
    assert len(hmacs) == 2 and hmacs[0] == hmacs[1]


@pytest.mark.parametrize("signature", [
    "", "forged", "A" * 28, "A" * 26 + "==", "A" * 27 + "-", "A" * 5000, "é" * 27 + "=",
])
def test_a_malformed_signature_header_is_refused_before_the_body_is_read(
    client: FlaskClient, hmacs: list[str], signature: str
) -> None:
    """Not base64 of a 20-byte HMAC: 403 without computing anything."""
    response = client.post("/voice", data=SIGNED_PARAMS,
                           headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert hmacs == []


def test_a_well_formed_wrong_signature_costs_one_hmac(client: FlaskClient,
                                                      hmacs: list[str]) -> None:
    """The right shape, the wrong value: one HMAC, then 403 (the library's port variants and
    second tries are not run)."""
    response = client.post("/voice", data=SIGNED_PARAMS,
                           headers={"X-Twilio-Signature": "A" * 27 + "="})
    assert response.status_code == 403
    assert len(hmacs) == 1


def test_sha256_signatures_are_accepted_when_announced(client: FlaskClient) -> None:
    """X-Twilio-Webhooks-Signature-Settings: algorithm=HMAC_SHA256 is checked as such."""
    signed = RequestValidator(TOKEN).compute_signature(BASE + "/voice", SIGNED_PARAMS,
                                                       "HMAC_SHA256")
    headers = {"X-Twilio-Signature": signed,
               "X-Twilio-Webhooks-Signature-Settings": "algorithm=HMAC_SHA256"}
    assert len(signed) == 44
    assert client.post("/voice", data=SIGNED_PARAMS, headers=headers).status_code == 200
    sha1 = RequestValidator(TOKEN).compute_signature(BASE + "/voice", SIGNED_PARAMS)
    headers["X-Twilio-Signature"] = sha1
    assert client.post("/voice", data=SIGNED_PARAMS, headers=headers).status_code == 403


def test_an_unsigned_unknown_path_is_refused_before_routing_and_logs_nothing_it_chose(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    """/voice/anything unsigned: 403, and no log line carries the sender's CallSid."""
    caplog.set_level(logging.INFO)
    response = client.post("/voice/no/such/path", data={"CallSid": "CAforged-by-sender"},
                           headers={"X-Twilio-Signature": "A" * 27 + "="})
    assert response.status_code == 403
    assert "CAforged-by-sender" not in caplog.text


def test_a_path_with_a_newline_writes_one_escaped_log_line(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    """%0A in an unsigned path cannot forge a second log line."""
    caplog.set_level(logging.INFO)
    forged = "/voice/x%0A2026-01-01 00:00:00 INFO ivr.calls forged"
    assert client.post(forged, data={}).status_code == 403
    assert caplog.records
    _no_tracebacks(caplog)
    assert "\\n2026-01-01" in caplog.text


def test_no_5xx_when_the_form_cannot_be_parsed(caller: Caller) -> None:
    """A signed request whose body is not a form at all still gets TwiML."""
    response = caller.client.post("/voice", data=b"\xff\xfe" * 100, headers={
        "X-Twilio-Signature": caller.validator.compute_signature(BASE + "/voice", {}),
        "Content-Type": "multipart/form-data; boundary=x"})
    assert response.status_code < 500
    if response.status_code == 200:
        Twiml(response.data)


def test_pinned_public_url_missing_is_warned_at_start(caplog: pytest.LogCaptureFixture,
                                                      tmp_path: Path) -> None:
    """Checks on, a token, no PUBLIC_BASE_URL, serving: a loud warning that names the fix."""
    signature.warn_when_serving(
        create_app({"TWILIO_AUTH_TOKEN": TOKEN, "DATABASE_URL": f"sqlite:///{tmp_path}/a.db"}))
    assert "PUBLIC_BASE_URL is not set" in caplog.text
    caplog.clear()
    signature.warn_when_serving(
        create_app({"TWILIO_AUTH_TOKEN": TOKEN, "DATABASE_URL": f"sqlite:///{tmp_path}/b.db",
                    "PUBLIC_BASE_URL": "https://ivr.example.com"}))
    assert "PUBLIC_BASE_URL" not in caplog.text


@pytest.fixture
def with_recording(make_app: Any, tmp_path: Path) -> FlaskClient:
    """An app whose prompts folder has one recording and a secret file beside it."""
    prompts = tmp_path / "prompts"
    shutil.copytree(ROOT_DIR / "voice_prompts", prompts)
    audio = prompts / "es" / "audio"
    audio.mkdir()
    (audio / "certicamara_bienvenida.mp3").write_bytes(b"ID3")
    (audio / ".env").write_text("TWILIO_AUTH_TOKEN=secret")
    (audio / "notes.txt").write_text("internal")
    (prompts / "es" / ".env").write_text("TWILIO_AUTH_TOKEN=secret")
    app: Flask = make_app(IVR_PROMPT_DIR=str(prompts))
    return app.test_client()


def test_only_recordings_are_served(with_recording: FlaskClient) -> None:
    """An .mp3 is served; dot files, other extensions and odd language codes are not."""
    served = with_recording.get("/audio/es/certicamara_bienvenida.mp3")
    assert served.status_code == 200 and served.data == b"ID3"
    served.close()
    for path in ("/audio/es/.env", "/audio/es/notes.txt", "/audio/es%0A/certicamara_bienvenida"
                 ".mp3", "/audio/ES/certicamara_bienvenida.mp3", "/audio/xx/a.mp3",
                 "/audio/es/..%2F.env", "/audio/es/.mp3"):
        assert with_recording.get(path).status_code == 404, path


def _gunicorn_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    """The settings gunicorn.conf.py gives, under `env`."""
    for name in ("GUNICORN_ACCESS_LOG", "GUNICORN_THREADS", "WEB_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT_DIR / "gunicorn.conf.py"))


def test_gunicorn_uses_threads_and_no_access_log_by_default(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """gthread workers; the access log (query strings, a second line per webhook) is off."""
    settings = _gunicorn_settings(monkeypatch)
    assert settings["worker_class"] == "gthread"
    assert settings["threads"] >= 16
    assert settings["accesslog"] is None
    assert _gunicorn_settings(monkeypatch, GUNICORN_ACCESS_LOG="on")["accesslog"] == "-"


@pytest.mark.parametrize("algorithm", ["HMAC_SHA1", "HMAC_SHA256"])
@pytest.mark.parametrize("pairs", [
    [],
    [("To", CERTICAMARA), ("CallSid", "CA1"), ("Digits", "")],
    [("b", "2"), ("a", "x"), ("b", "1"), ("b", "2")],  # repeated names and values
    [("SpeechResult", "número ñandú 😀"), ("Caller", "+57 300"), ("&=", "%")],
])
def test_the_apps_one_hmac_is_twilios_signature(pairs: list[tuple[str, str]],
                                                algorithm: str) -> None:
    """The app's own HMAC over the parsed pairs equals what Twilio's library computes."""
    from werkzeug.datastructures import MultiDict

    url = "https://ivr.example.com/voice/x/menu/y?f=1&n=%C3%B1"
    expected = RequestValidator(TOKEN).compute_signature(url, MultiDict(pairs), algorithm)
    assert signature.signature_matches(TOKEN.encode(), url, pairs, expected, algorithm)
    assert not signature.signature_matches(TOKEN.encode(), url + "&", pairs, expected, algorithm)


def test_a_repeated_parameter_is_signed_whole_and_read_first(caller: Caller) -> None:
    """Every value is signed; a webhook reads a name's first value, as Werkzeug's form did."""
    caller.call(CERTICAMARA)
    url = "/voice/certicamara/menu/principal?f=0"
    body = f"CallSid={caller.sid}&To=%2B576017442727&Digits=2&Digits=9"
    pairs = [("CallSid", caller.sid), ("To", CERTICAMARA), ("Digits", "2"), ("Digits", "9")]
    from werkzeug.datastructures import MultiDict

    signed = caller.validator.compute_signature(BASE + url, MultiDict(pairs))
    response = caller.client.post(url, data=body, headers={
        "X-Twilio-Signature": signed, "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200
    first_only = caller.post(url, dict(pairs[:3]))
    assert response.data == first_only.data
    assert response.data != caller.post(url, {**dict(pairs[:2]), "Digits": "9"}).data
    wrong = caller.validator.compute_signature(BASE + url, MultiDict(pairs[:3]))
    refused = caller.client.post(url, data=body, headers={
        "X-Twilio-Signature": wrong, "Content-Type": "application/x-www-form-urlencoded"})
    assert refused.status_code == 403
