"""Menus under stress: wrong keys, silence, garbage, stale URLs, forged signatures."""

from __future__ import annotations

import json
import logging

import pytest
from flask import Flask, request

from ivr.core import navigator
from tests.conftest import BASE, CERTICAMARA, Caller, Clock, Twiml

BOGOTA = "America/Bogota"


def test_wrong_key_says_so_and_repeats_the_menu(caller: Caller) -> None:
    """An option that does not exist: 'opción no válida', then the same menu, one failure on."""
    caller.call(CERTICAMARA)
    twiml = caller.press("7")
    assert twiml.text.startswith("Opción no válida.")
    assert "marque 2" in twiml.text
    assert twiml.one("Gather").get("action").endswith("principal?f=1")


def test_three_wrong_keys_in_hours_reach_the_support_group(caller: Caller) -> None:
    """After three failures (wrong or missing keys) in hours: the support group's queue."""
    caller.call(CERTICAMARA)
    caller.press("7")
    caller.silence()
    twiml = caller.press("8")
    assert twiml.one("Enqueue").text == "soporte"
    assert "Opción no válida" in twiml.text


def test_three_wrong_keys_after_hours_reach_the_closed_message(
    caller: Caller, clock: Clock
) -> None:
    """After hours the priority-1 offer; wrong keys or silence end in goodbye, never a loop."""
    clock.set("2026-11-29 03:00", BOGOTA)
    twiml = caller.call(CERTICAMARA)
    assert "fuera del horario" in twiml.text and "prioridad 1" in twiml.text
    caller.press("7")
    caller.silence()
    twiml = caller.press("8")
    assert "Hasta luego" in twiml.text and twiml.verbs[-1] == "Hangup"


def test_star_repeats_without_counting_a_failure(caller: Caller) -> None:
    """'*' plays the menu again and keeps the failure count."""
    caller.call(CERTICAMARA)
    caller.press("7")
    twiml = caller.press("*")
    assert "Opción no válida" not in twiml.text
    assert twiml.one("Gather").get("action").endswith("principal?f=1")


def test_back_key_goes_up_one_level(caller: Caller) -> None:
    """'#' in the support menu goes back to the main menu."""
    caller.call(CERTICAMARA)
    caller.press("2")
    twiml = caller.press("#")
    assert twiml.one("Gather").get("action").endswith("/menu/principal?f=0")


def test_typed_ahead_wrong_second_key_stays_in_the_sub_menu(caller: Caller) -> None:
    """'27': 2 opens support, 7 is not an option there: the support menu again."""
    caller.call(CERTICAMARA)
    twiml = caller.press("27")
    assert "Opción no válida" in twiml.text
    assert twiml.one("Gather").get("action").endswith("/menu/soporte?f=1")


@pytest.mark.parametrize(
    "digits",
    ["", "abc", "9" * 10_000, "２", "\x00\x01", "2\n5", "-1", "<Say>", "25" * 3000, "ñ"],
)
def test_garbage_digits_get_valid_twiml(caller: Caller, digits: str) -> None:
    """Whatever arrives as Digits, the answer is 200 and valid TwiML."""
    caller.call(CERTICAMARA)
    twiml = caller.press(digits)
    assert twiml.verbs


@pytest.mark.parametrize(
    "url",
    [
        "/voice/certicamara/menu/no_such_node?f=0",
        "/voice/certicamara/menu/subasta?f=0",     # a node that is not a menu
        "/voice/certicamara/menu/principal?f=abc",
        "/voice/certicamara/menu/principal?f=99999999999999",
        "/voice/certicamara/dial/principal?t=0",   # not a dial node
        "/voice/certicamara/dial/supervisor?t=banana",
        "/voice/certicamara/dial/supervisor?t=999",
        "/voice/certicamara/queue/nope",
        "/voice/certicamara/wait/nope",
        "/voice/certicamara/wait/subasta",
        "/voice/no_such_line/menu/principal?f=0",
        "/voice/" + "x" * 5000,
        "/voice/certicamara/unknown/verb",
    ],
)
def test_stale_or_unknown_urls_get_valid_twiml(caller: Caller, url: str) -> None:
    """Stale links (a menu edited mid-call) and unknown URLs still answer TwiML, never a 500."""
    assert caller.request(url, Digits="1", DialCallStatus="weird", QueueTime="x").verbs


def test_unknown_number_gets_a_polite_message(caller: Caller) -> None:
    """A number no menu claims: a short message and goodbye."""
    twiml = caller.call("+15005550006")
    assert "no tiene un servicio" in twiml.text and twiml.verbs == ["Say", "Hangup"]


def test_missing_to_gets_a_polite_message(caller: Caller) -> None:
    """No `To` at all (or a SIP address): the same."""
    assert caller.request("/voice").verbs == ["Say", "Hangup"]
    assert caller.request("/voice", To="sip:someone@example.com").verbs == ["Say", "Hangup"]


def test_default_line_takes_unknown_numbers(make_app: object) -> None:
    """With IVR_DEFAULT_LINE set, a number no file claims reaches that line."""
    app: Flask = make_app(IVR_DEFAULT_LINE="cco")  # type: ignore[operator]
    twiml = Caller(app.test_client()).call("+15005550006")
    assert "CCO Apoyo Empresarial" in twiml.text


def test_failure_inside_the_service_answers_an_apology(
    caller: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception while deciding becomes an apology in TwiML, not a 500."""
    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(navigator, "press", broken)
    caller.call(CERTICAMARA)
    twiml = caller.press("2")
    assert "problema técnico" in twiml.text and twiml.verbs[-1] == "Hangup"


def test_one_structured_log_line_per_webhook(
    caller: Caller, caplog: pytest.LogCaptureFixture
) -> None:
    """Each webhook logs one JSON line with the CallSid, line, node and outcome."""
    with caplog.at_level(logging.INFO, logger="ivr.calls"):
        caller.call(CERTICAMARA)
        caller.press("25")
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "ivr.calls"]
    assert [(r["call"], r["line"], r["node"], r["outcome"]) for r in records] == [
        (caller.sid, "certicamara", "principal", "menu"),
        (caller.sid, "certicamara", "subasta", "queue"),
    ]


# Signatures


@pytest.mark.parametrize(
    "signature", ["", "forged", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "x" * 5000]
)
def test_forged_or_missing_signature_is_refused(caller: Caller, signature: str) -> None:
    """A request Twilio did not sign gets 403."""
    response = caller.post("/voice", {"To": CERTICAMARA}, signature=signature)
    assert response.status_code == 403


def test_signature_for_other_params_is_refused(caller: Caller) -> None:
    """A valid signature replayed with other parameters (another key pressed) gets 403."""
    url = "/voice/certicamara/menu/principal?f=0"
    signed = caller.validator.compute_signature(BASE + url, {"Digits": "3"})
    assert caller.post(url, {"Digits": "25"}, signature=signed).status_code == 403


def test_signature_for_another_url_is_refused(caller: Caller) -> None:
    """A valid signature replayed to another URL gets 403."""
    signed = caller.validator.compute_signature(BASE + "/voice", {"Digits": "2"})
    url = "/voice/certicamara/menu/principal?f=0"
    assert caller.post(url, {"Digits": "2"}, signature=signed).status_code == 403


def test_signed_with_another_token_is_refused(client: object) -> None:
    """A request signed with some other account's token gets 403."""
    other = Caller(client, token="not-our-token")  # type: ignore[arg-type]
    assert other.post("/voice", {"To": CERTICAMARA}).status_code == 403


def test_without_a_token_every_webhook_is_refused(make_app: object) -> None:
    """No TWILIO_AUTH_TOKEN and checks not turned off: nothing is served."""
    app: Flask = make_app(TWILIO_AUTH_TOKEN="")  # type: ignore[operator]
    caller = Caller(app.test_client(), token="anything")
    assert caller.post("/voice", {"To": CERTICAMARA}).status_code == 403


def test_checks_turned_off_for_development_warn_loudly(
    make_app: object, caplog: pytest.LogCaptureFixture
) -> None:
    """IVR_SIGNATURE_CHECK=off serves unsigned requests, and says so when serving starts."""
    from ivr.web import signature

    with caplog.at_level(logging.WARNING):
        app: Flask = make_app(  # type: ignore[operator]
            TWILIO_AUTH_TOKEN="", IVR_SIGNATURE_CHECK=False
        )
        signature.warn_when_serving(app)  # what wsgi.py does when gunicorn loads it
    assert any("UNSIGNED" in r.getMessage() for r in caplog.records)
    response = app.test_client().post("/voice", data={"To": CERTICAMARA})
    assert response.status_code == 200
    Twiml(response.data)


def test_public_base_url_behind_a_proxy(make_app: object) -> None:
    """Behind a proxy, PUBLIC_BASE_URL is the URL Twilio signed."""
    app: Flask = make_app(PUBLIC_BASE_URL="https://ivr.example.com")  # type: ignore[operator]
    caller = Caller(app.test_client())
    params = {"To": CERTICAMARA, "CallSid": caller.sid}
    good = caller.validator.compute_signature("https://ivr.example.com/voice", params)
    assert caller.post("/voice", params, signature=good).status_code == 200
    local = caller.validator.compute_signature(BASE + "/voice", params)
    assert caller.post("/voice", params, signature=local).status_code == 403


def test_trusted_proxy_headers(make_app: object) -> None:
    """With TRUSTED_PROXIES=1, X-Forwarded-Proto/Host rebuild the public URL (ProxyFix)."""
    app: Flask = make_app(TRUSTED_PROXIES=1)  # type: ignore[operator]
    caller = Caller(app.test_client())
    params = {"To": CERTICAMARA, "CallSid": caller.sid}
    signed = caller.validator.compute_signature("https://ivr.example.com/voice", params)
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "ivr.example.com"}
    response = caller.post("/voice", params, signature=signed, headers=forwarded)
    assert response.status_code == 200


def test_our_signature_check_accepts_twilios_published_example(make_app: object) -> None:
    """Twilio's published test vector, checked by our code (`public_url`, `is_signed`): the
    URL rebuilt under PUBLIC_BASE_URL is the one Twilio signed; one changed value is refused."""
    from ivr.web import signature

    app: Flask = make_app(  # type: ignore[operator]
        TWILIO_AUTH_TOKEN="12345", PUBLIC_BASE_URL="https://mycompany.com")
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    signed = {"X-Twilio-Signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="}
    with app.test_request_context("/myapp.php?foo=1&bar=2", method="POST", data=params,
                                  headers=signed):
        assert signature.public_url(request.environ, "https://mycompany.com") == (
            "https://mycompany.com/myapp.php?foo=1&bar=2")
        assert signature.is_signed()
    with app.test_request_context("/myapp.php?foo=1&bar=2", method="POST",
                                  data={**params, "Digits": "1235"}, headers=signed):
        assert not signature.is_signed()
    with app.test_request_context("/myapp.php?foo=1&bar=3", method="POST", data=params,
                                  headers=signed):
        assert not signature.is_signed()


def test_public_base_url_with_a_prefix_keeps_it_in_every_link(make_app: object) -> None:
    """Under https://host/ivr, the TwiML's links keep /ivr, and Twilio's next request validates."""
    app: Flask = make_app(PUBLIC_BASE_URL="https://h.example/ivr")  # type: ignore[operator]
    caller = Caller(app.test_client())
    params = {"To": CERTICAMARA, "CallSid": caller.sid}
    signed = caller.validator.compute_signature("https://h.example/ivr/voice", params)
    first = Twiml(caller.post("/voice", params, signature=signed).data)
    action = first.one("Gather").get("action")
    assert action == "https://h.example/ivr/voice/certicamara/menu/principal?f=0"
    path = action.removeprefix("https://h.example/ivr")
    params = {"Digits": "25", "CallSid": caller.sid}
    signed = caller.validator.compute_signature(action, params)
    second = caller.post(path, params, signature=signed)
    assert second.status_code == 200 and Twiml(second.data).all("Enqueue")


@pytest.mark.parametrize("seconds", ["²", "٣", "1e3", "-5", "9" * 50])
def test_odd_queue_times_keep_the_caller_waiting(caller: Caller, seconds: str) -> None:
    """QueueTime that is not plain ASCII digits counts as 0: hold music, not an apology."""
    caller.call(CERTICAMARA)
    caller.press("25")
    url = caller.queued.one("Enqueue").get("waitUrl")  # type: ignore[union-attr]
    assert caller.request(url, QueueTime=seconds).verbs == ["Say", "Play"]


@pytest.mark.parametrize("url", ["/voice/cco/dial/%2500?s=1", "/voice/cco/screen//answer",
                                 "/voice//menu/principal?f=0",
                                 "/voice/cco/menu/%C3%B1and%C3%BA?f=0"])
def test_odd_but_signed_urls_get_twiml_not_403_or_redirects(caller: Caller, url: str) -> None:
    """A literal '%', an empty segment or a non-ASCII id, signed as sent: TwiML, no 308/403."""
    assert caller.request(url, Digits="1").verbs
