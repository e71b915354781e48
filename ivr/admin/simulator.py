"""A call simulated in process: the real webhooks, signed as Twilio signs them, told as text.

`Simulator` plays Twilio's part against a Flask app's test client: it posts what Twilio posts,
follows the TwiML it gets back (standard-library XML only), and writes down what the caller
hears, what the call does and where it goes. Keys and dial outcomes come from a `Driver`: a
script (`Script`) or a person at a terminal (`Prompting`). The webhooks run for real, so a
simulated call writes what a real one writes (cases, missed calls) to the app's database.
"""

from __future__ import annotations

import contextvars
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlencode, urljoin
from zoneinfo import ZoneInfo

import phonenumbers
from flask import Flask
from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from ivr.core.moment import within_years
from ivr.core.phone import format_international
from ivr.web.helpers import webhook_answered
from ivr.web.live_menus import get_lines

ACCOUNT_SID = "AC" + "0" * 32  # a made-up account: the signature is what Twilio checks
MAX_STEPS = 50  # webhooks per simulated call: more means a loop
MAX_SCREEN_STEPS = 5  # webhooks of one screened callee's leg
# Twilio's From for a caller whose number is withheld: no real number is needed to simulate.
DEFAULT_CALLER = "anonymous"
LOCAL_ORIGIN = "http://localhost"  # how the test client's requests look to the app
# Twilio's shape of a recording URL (the webhooks store no other), under an account of zeros
# that does not exist: a simulated message never points at a real recording.
RECORDING_BASE = "https://api.twilio.com/2010-04-01/Accounts/AC" + "0" * 32 + "/Recordings/"
RECORDING_SECONDS = "12"
BRIDGED_SECONDS = "60"
QUIT = "q"  # typed at a prompt: the caller hangs up
SILENCE = "_"  # a --keys entry: no key at that <Gather>
KEYS = re.compile(r"[0-9*#]+")
DIAL_OUTCOMES = ("completed", "no-answer", "busy", "failed", "canceled", "declined")
SPOKEN = ("Say", "Play", "Pause")
SHOWN_PARAMS = ("Digits", "DialCallStatus", "DialBridged", "RecordingUrl", "QueueTime")
FAILED_OUTCOMES = ("error", "not-found")  # the webhook failed and answered an apology
WEEKDAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
DIAL_ENDS = {
    "no-answer": "nadie contesta",
    "busy": "ocupado",
    "failed": "la llamada no se pudo hacer",
    "canceled": "llamada cancelada",
    "completed": "contesta pero no acepta: no se conecta",
}


class SimulatorError(ValueError):
    """The simulation cannot start (the app cannot be called as Twilio calls it)."""


class SimulationError(Exception):
    """A webhook answered something Twilio would not accept (or the call went round too long)."""


class Driver(Protocol):
    """Where the caller's keys and the dialled people's answers come from."""

    def keys(self) -> str | None:
        """The keys typed at the next <Gather>: None is silence, QUIT hangs up."""

    def dial_outcome(self, called: str) -> str:
        """How the next <Dial> ends: one of DIAL_OUTCOMES, or QUIT."""


class Script:
    """Scripted mode: one entry per <Gather> in turn (then silence), dial outcomes in order."""

    def __init__(self, keys: Sequence[str | None] = (), dials: Sequence[str] = ()) -> None:
        """Keep the entries and the dial outcomes to play, in order."""
        self._keys = list(keys)
        self._dials = list(dials)

    def keys(self) -> str | None:
        """The next scripted entry; silence once the script has run out."""
        return self._keys.pop(0) if self._keys else None

    def dial_outcome(self, called: str) -> str:
        """The next scripted outcome; answered (and accepted) once they have run out."""
        return self._dials.pop(0) if self._dials else "completed"


class Prompting(Script):
    """Interactive mode: asks at each <Gather> (and at each <Dial> not scripted by --dial)."""

    def __init__(self, ask: Callable[[str], str], dials: Sequence[str] = ()) -> None:
        """Ask with `ask`; dial outcomes come from `dials` first."""
        super().__init__((), dials)
        self._ask = ask

    def keys(self) -> str | None:
        """Ask until the answer is keys, nothing (silence) or q."""
        question = "  teclas (Enter: silencio, q: colgar)"
        while True:
            answer = self._ask(question).strip()
            if answer in ("", QUIT) or KEYS.fullmatch(answer):
                return answer or None
            question = "  solo 0-9, * y # (Enter: silencio, q: colgar)"

    def dial_outcome(self, called: str) -> str:
        """The next --dial outcome, else ask how the call ends."""
        if self._dials:
            return super().dial_outcome(called)
        question = f"  ¿qué pasa? {'/'.join(DIAL_OUTCOMES)} (Enter: completed, q: colgar)"
        while True:
            answer = self._ask(question).strip().lower() or "completed"
            if answer in (*DIAL_OUTCOMES, QUIT):
                return answer


@dataclass(frozen=True)
class Hop:
    """A webhook request Twilio makes next."""

    url: str
    method: str
    params: dict[str, str]


@dataclass(frozen=True)
class End:
    """The call reached an end: how ("hangup", "queue", "caller-hangup") and in words."""

    reason: str
    words: str


@dataclass
class Transcript:
    """What the simulation printed, how the call ended (or what went wrong), and its length."""

    lines: list[str] = field(default_factory=list)
    ending: str | None = None
    error: str | None = None
    steps: int = 0

    @property
    def ok(self) -> bool:
        """Whether the call reached an end without a webhook failing."""
        return self.ending is not None and self.error is None

    @property
    def text(self) -> str:
        """The whole transcript."""
        return "\n".join(self.lines)


def parse_keys(text: str) -> list[str | None]:
    """`--keys`: entries split by spaces or commas; `_` is silence; '25' types ahead."""
    entries: list[str | None] = []
    for entry in re.split(r"[\s,]+", text.strip()):
        if not entry:
            continue
        if entry != SILENCE and not KEYS.fullmatch(entry):
            raise ValueError(f"{entry!r} is not keys: use 0-9, * and #, and _ for silence")
        entries.append(None if entry == SILENCE else entry)
    return entries


def parse_dials(text: str) -> list[str]:
    """`--dial`: outcomes split by commas or spaces, each one of DIAL_OUTCOMES."""
    outcomes = [o.lower() for o in re.split(r"[\s,]+", text.strip()) if o]
    for outcome in outcomes:
        if outcome not in DIAL_OUTCOMES:
            raise ValueError(f"{outcome!r} is not a dial outcome: use {', '.join(DIAL_OUTCOMES)}")
    return outcomes


def local_time(text: str, zone: str) -> datetime:
    """'2026-12-08 10:00' as an aware time in `zone` (a time with an offset is converted)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as e:
        raise ValueError(f"{text!r} is not a date and time like '2026-12-08 10:00'") from e
    within_years(moment)
    tz = ZoneInfo(zone)
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(tz)


def take_digits(keys: str, limit: int, finish: str) -> tuple[str, str]:
    """Split typed keys into what a <Gather> takes and what is left for the next one."""
    for i, key in enumerate(keys):
        if finish and key in finish:
            return keys[:i], keys[i + 1:]
        if limit and i + 1 == limit:
            return keys[:limit], keys[limit:]
    return keys, ""


def readable_number(text: str) -> str:
    """A number in its international form; anything else (SIP, 'anonymous') as it is."""
    try:
        return format_international(text)
    except phonenumbers.NumberParseException:
        return text


def _sid(prefix: str) -> str:
    """A fresh Twilio-style id ('CA' and 32 hex digits)."""
    return prefix + uuid.uuid4().hex


def _attr(verb: ET.Element, name: str, default: str) -> str:
    """An attribute of a verb, or Twilio's default for it."""
    value = verb.get(name)
    return default if value is None or value == "" else value


def _count(verb: ET.Element, name: str, default: str) -> int:
    """A whole-number attribute of a verb (numDigits and the like)."""
    value = _attr(verb, name, default)
    if not value.isdigit():
        raise SimulationError(f"<{verb.tag} {name}={value!r}> is not a whole number")
    return int(value)


def _keys_hint(limit: int, finish: str) -> str:
    """'hasta 2 dígitos', '# termina' and the like, for a <Gather>."""
    most = "1 dígito" if limit == 1 else f"{limit} dígitos" if limit else "varios dígitos"
    return f"hasta {most}, {finish} termina" if finish else f"hasta {most}"


def _target_text(target: ET.Element) -> str:
    """Who a <Dial> rings, as the transcript says it.

    A number with ' ext. N' for <Number sendDigits="wwwwN">, a SIP address as is, and "la cola
    'NAME'" for an analyst taking a caller from a queue.
    """
    if target.tag == "Queue":
        return f"la cola '{(target.text or '').strip()}'"
    text = readable_number((target.text or "").strip())
    extension = (target.get("sendDigits") or "").lower().replace("w", "")
    return f"{text} ext. {extension}" if extension else text


def call_parameters(call_sid: str, caller: str, to: str) -> dict[str, str]:
    """What Twilio sends with every request of an inbound call's leg."""
    return {"AccountSid": ACCOUNT_SID, "CallSid": call_sid, "From": caller, "To": to,
            "Direction": "inbound", "CallStatus": "in-progress", "ApiVersion": "2010-04-01"}


def send_as_twilio(
    client: FlaskClient, validator: RequestValidator | None, method: str, path: str, url: str,
    params: dict[str, str], signature: str | None = None, headers: dict[str, str] | None = None,
) -> TestResponse:
    """One webhook request as Twilio makes it: the form signed over the full public `url`.

    `signature` replaces the computed one (a forged or foreign signature, for tests). A GET
    carries the parameters in its query string, signed there.
    """
    if method == "GET" and params:
        query = ("&" if "?" in path else "?") + urlencode(params)
        path, url, params = path + query, url + query, {}
    sent = dict(headers or {})
    if signature is not None:
        sent["X-Twilio-Signature"] = signature
    elif validator is not None:
        sent["X-Twilio-Signature"] = validator.compute_signature(url, params)
    if method == "GET":
        return client.get(path, headers=sent)
    return client.post(path, data=params, headers=sent)


class Simulator:
    """Plays Twilio against `app`: one simulated call per `run`, told line by line to `out`."""

    def __init__(self, app: Flask, driver: Driver | None = None,
                 out: Callable[[str], None] | None = None, *, caller: str = DEFAULT_CALLER,
                 max_steps: int = MAX_STEPS) -> None:
        """Check that the app can be called as Twilio calls it, and get ready for a call."""
        token = app.config.get("TWILIO_AUTH_TOKEN")
        if not token and app.config.get("IVR_SIGNATURE_CHECK", True):
            raise SimulatorError(
                "TWILIO_AUTH_TOKEN is not set, so every webhook would answer 403: set it (any "
                "value will do for a simulation), or set IVR_SIGNATURE_CHECK=off to send "
                "unsigned requests")
        self.app = app
        self.driver: Driver = driver or Script()
        self.out = out
        self.caller = caller
        self.max_steps = max_steps
        self.validator = RequestValidator(token) if token else None
        self.origin = app.config.get("PUBLIC_BASE_URL") or LOCAL_ORIGIN
        self.client = app.test_client()
        self.answered: list[dict[str, Any]] = []  # what each webhook of a request logged
        self._reset()

    def _reset(self) -> None:
        """A new call: a new CallSid, an empty transcript, no keys typed ahead."""
        self.sid = _sid("CA")
        self.transcript = Transcript()
        self.pending = ""
        self.connected: str | None = None
        self.to = ""

    def run(self, to: str, at: datetime | None = None, entry: str = "/voice") -> Transcript:
        """Call `to` (E.164), at local time `at` if given (else the app's clock), to the end.

        `entry` is the number's voice URL (an analysts' number: /voice/LINE/analyst).
        """
        self._reset()
        self.to = to
        with self._clock(at), self._listening(), self._no_rest_api():
            self._header(at)
            try:
                self._call(Hop(self.origin + entry, "POST", {"CallStatus": "ringing"}))
            except SimulationError as e:
                self.transcript.error = str(e)
        self._footer()
        return self.transcript

    # The call, webhook after webhook

    def _call(self, hop: Hop) -> None:
        """Follow the call from webhook to webhook until it ends."""
        while True:
            result = self._follow(self._request(hop), hop.url)
            if isinstance(result, End):
                self._end(result)
                return
            hop = result

    def _follow(self, document: ET.Element, url: str) -> Hop | End:
        """Do a document's verbs in order, as Twilio does: the next webhook, or the end."""
        for verb in document:
            handler = self._verbs().get(verb.tag)
            if handler is None:
                raise SimulationError(f"<{verb.tag}> is not a verb the simulator knows")
            result = handler(verb, url)
            if result is not None:
                return result
        self._emit("✆ cuelga (fin del documento)")
        return End("hangup", "cuelga")

    def _verbs(self) -> dict[str, Callable[[ET.Element, str], Hop | End | None]]:
        """Each TwiML verb and what the simulator does with it."""
        return {
            "Say": self._speak, "Play": self._speak, "Pause": self._speak,
            "Gather": self._gather, "Dial": self._dial, "Enqueue": self._enqueue,
            "Record": self._record, "Redirect": self._redirect, "Hangup": self._hangup,
            "Reject": self._hangup, "Leave": self._leave, "Start": self._start,
            "Stop": self._stop,
        }

    def _end(self, end: End) -> None:
        """Note how the call ended (a connected call counts as connected)."""
        if self.connected and end.reason != "queue":
            end = End("connected", f"conectado con {self.connected}")
        self.transcript.ending = end.reason
        steps = self.transcript.steps
        self._emit(f"■ fin: {end.words} ({steps} webhook{'' if steps == 1 else 's'})")

    # Verbs

    def _speak(self, verb: ET.Element, url: str = "") -> None:
        """What the caller hears: <Say> text, [audio: url] for <Play>, [pausa Ns]."""
        if verb.tag == "Say":
            self._emit("  " + " ".join((verb.text or "").split()))
        elif verb.tag == "Play":
            self._emit(f"  [audio: {(verb.text or '').strip()}]")
        elif verb.tag == "Pause":
            self._emit(f"  [pausa {_attr(verb, 'length', '1')}s]")

    def _gather(self, verb: ET.Element, url: str) -> Hop | End | None:
        """A menu: its prompts, then keys (or silence, and Twilio goes on to the next verb)."""
        for child in verb:
            if child.tag not in SPOKEN:
                raise SimulationError(f"<{child.tag}> inside <Gather>")
            self._speak(child)
        limit = _count(verb, "numDigits", "0")
        finish = verb.get("finishOnKey", "#")
        self._emit(f"⇢ marque una tecla ({_keys_hint(limit, finish)})")
        digits = self._press(limit, finish)
        if digits is None:
            return self._caller_hangs_up()
        ahead = f"  (y {self.pending} por adelantado)" if self.pending else ""
        self._emit(f"  ⌨ {digits}{ahead}" if digits else "  ⌨ (silencio)")
        if not digits and verb.get("actionOnEmptyResult") != "true":
            return None
        return Hop(urljoin(url, verb.get("action") or url), _attr(verb, "method", "POST"),
                   {"Digits": digits})

    def _press(self, limit: int, finish: str) -> str | None:
        """The keys this <Gather> takes ('' is silence, None is the caller hanging up)."""
        if not self.pending:
            keys = self.driver.keys()
            if keys == QUIT:
                return None
            self.pending = keys or ""
        digits, self.pending = take_digits(self.pending, limit, finish)
        return digits

    def _dial(self, verb: ET.Element, url: str) -> Hop | End | None:
        """Ring the targets; the driver says how it ends; a screened callee is simulated too."""
        targets = [t for t in verb if t.tag in ("Number", "Sip", "Client", "Queue")]
        called = ", ".join(_target_text(t) for t in targets) or readable_number(
            (verb.text or "").strip())
        self._emit(f"☎ llamando a {called} ({_attr(verb, 'timeout', '30')} s) …")
        outcome = self.driver.dial_outcome(called)
        if outcome == QUIT:
            return self._caller_hangs_up()
        leg = _sid("CA")
        bridged = self._answered(targets, outcome, url, leg)
        if bridged:
            self.connected = called
            self._emit(f"  ✔ conectado con {called}")
        status = "completed" if outcome == "declined" else outcome
        if not bridged:
            self._emit(f"  ✗ {DIAL_ENDS[status]}")
        action = verb.get("action")
        if not action:
            return None
        params = {"DialCallStatus": status, "DialCallSid": leg,
                  "DialBridged": "true" if bridged else "false"}
        if bridged:
            params["DialCallDuration"] = BRIDGED_SECONDS
        return Hop(urljoin(url, action), _attr(verb, "method", "POST"), params)

    def _answered(self, targets: list[ET.Element], outcome: str, url: str, leg: str) -> bool:
        """Whether the call is bridged: answered, and accepted where the callee is screened."""
        if outcome not in ("completed", "declined"):
            return False
        screened = [t for t in targets if t.get("url")]
        if not screened:
            return outcome == "completed"
        target = screened[0]
        return self._screen(Hop(urljoin(url, target.get("url", "")),
                                _attr(target, "method", "POST"), {}),
                            target, leg, outcome == "completed")

    def _enqueue(self, verb: ET.Element, url: str) -> End:
        """The caller waits in a queue for an agent: what they hear there, and the end."""
        name = (verb.text or "").strip()
        self._emit(f"⏳ en cola '{name}'")
        wait = verb.get("waitUrl")
        if wait:
            hop = Hop(urljoin(url, wait), _attr(verb, "waitUrlMethod", "POST"),
                      {"QueueSid": _sid("QU"), "QueueTime": "0", "QueuePosition": "1",
                       "CurrentQueueSize": "1", "AvgQueueTime": "0"})
            for child in self._request(hop):
                for spoken in (child if child.tag == "Gather" else [child]):
                    self._speak(spoken)
        return End("queue", f"en cola '{name}'")

    def _start(self, verb: ET.Element, url: str) -> None:
        """A real-time transcription starts (the simulator transcribes nothing)."""
        for child in verb:
            language = child.get("languageCode", "")
            self._emit(f"  [{child.tag.lower()} en tiempo real {language}]".replace(" ]", "]"))

    def _stop(self, verb: ET.Element, url: str) -> None:
        """A real-time transcription ends."""
        for child in verb:
            self._emit(f"  [fin de {child.tag.lower()}]")

    def _record(self, verb: ET.Element, url: str) -> Hop:
        """The caller speaks after the beep: a simulated recording goes to the action."""
        self._emit(f"● grabando mensaje (hasta {_attr(verb, 'maxLength', '3600')} s)")
        recording = _sid("RE")
        address = RECORDING_BASE + recording
        self._emit(f"  [grabación simulada: {address}, {RECORDING_SECONDS} s]")
        return Hop(urljoin(url, verb.get("action") or url), _attr(verb, "method", "POST"),
                   {"RecordingUrl": address, "RecordingDuration": RECORDING_SECONDS,
                    "RecordingSid": recording})

    def _redirect(self, verb: ET.Element, url: str) -> Hop:
        """Twilio asks the given URL what to do next."""
        return Hop(urljoin(url, (verb.text or "").strip()), _attr(verb, "method", "POST"), {})

    def _hangup(self, verb: ET.Element, url: str) -> End:
        """The service ends the call."""
        self._emit("✆ cuelga")
        return End("hangup", "cuelga")

    def _leave(self, verb: ET.Element, url: str) -> None:
        """Leave a queue (nothing to do outside one)."""
        self._emit("⇠ sale de la cola")

    def _caller_hangs_up(self) -> End:
        """The admin typed q: the caller hangs up."""
        self._emit("✆ el llamante cuelga")
        return End("caller-hangup", "el llamante colgó")

    # The callee's leg of a screened <Dial>

    def _screen(self, hop: Hop, target: ET.Element, leg: str, accept: bool) -> bool:
        """The person called hears who calls and presses 1 (or not): whether they are bridged."""
        child = {"CallSid": leg, "ParentCallSid": self.sid, "From": self.caller,
                 "To": (target.text or "").strip(), "Direction": "outbound-dial",
                 "CallStatus": "in-progress", "AccountSid": ACCOUNT_SID}
        for _ in range(MAX_SCREEN_STEPS):
            result = self._screen_step(self._request(hop, child), hop.url, accept)
            if isinstance(result, bool):
                return result
            hop = result
        raise SimulationError(f"the screening of {_target_text(target)} goes round in circles")

    def _screen_step(self, document: ET.Element, url: str, accept: bool) -> Hop | bool:
        """One document of the callee's leg: the next webhook, or whether the call bridges."""
        for verb in document:
            if verb.tag == "Gather":
                self._whisper([c for c in verb if c.tag != "Pause"])
                if accept:
                    self._emit("  ⌨ 1 (quien contesta acepta)")
                    return Hop(urljoin(url, verb.get("action") or url),
                               _attr(verb, "method", "POST"), {"Digits": "1"})
                self._emit("  ⌨ (quien contesta no marca nada)")
            elif verb.tag in ("Say", "Play"):
                self._whisper([verb])
            elif verb.tag == "Redirect":
                return self._redirect(verb, url)
            elif verb.tag in ("Hangup", "Reject"):
                return False
        return True

    def _whisper(self, verbs: list[ET.Element]) -> None:
        """What the person called hears, once, with how many times it is said."""
        said = [" ".join((v.text or "").split()) if v.tag == "Say"
                else f"[audio: {(v.text or '').strip()}]" for v in verbs]
        for text in dict.fromkeys(said):
            times = said.count(text)
            self._emit(f"  ☏ contesta y oye: {text}" + (f" (×{times})" if times > 1 else ""))

    # Requests, as Twilio makes them

    def _request(self, hop: Hop, base: dict[str, str] | None = None) -> ET.Element:
        """Make one webhook request; its TwiML, or SimulationError if Twilio would refuse it."""
        if self.transcript.steps >= self.max_steps:
            raise SimulationError(f"{self.max_steps} webhooks without reaching an end: "
                                  "stopped (a loop?)")
        self.transcript.steps += 1
        path = self._local(hop.url)
        params = {**(base if base is not None else self._call_params()), **hop.params}
        self.answered.clear()
        response = contextvars.Context().run(self._send, hop.method.upper(), path, hop.url,
                                             params)
        if base is None:
            self._note(hop, path)
        return self._twiml(response, f"{hop.method.upper()} {path}")

    def _call_params(self) -> dict[str, str]:
        """What Twilio sends with every request of the caller's leg."""
        return call_parameters(self.sid, self.caller, self.to)

    def _send(self, method: str, path: str, url: str, params: dict[str, str]) -> TestResponse:
        """One request, signed over the full URL and the form (run with no Flask context)."""
        return send_as_twilio(self.client, self.validator, method, path, url, params)

    def _local(self, url: str) -> str:
        """The path to ask the test client for a URL of this app (anything else is an error)."""
        if url != self.origin and not url.startswith(self.origin + "/"):
            raise SimulationError(f"the call is sent outside this app: {url}")
        return url[len(self.origin):] or "/"

    def _twiml(self, response: TestResponse, request: str) -> ET.Element:
        """The response's TwiML document, if Twilio would take it."""
        if response.status_code != 200:
            raise SimulationError(f"HTTP {response.status_code} from {request}")
        if response.mimetype not in ("text/xml", "application/xml"):
            raise SimulationError(f"{request} answered {response.mimetype!r}, not TwiML")
        try:
            document = ET.fromstring(response.get_data())
        except ET.ParseError as e:
            raise SimulationError(f"{request} answered XML that does not parse: {e}") from e
        if document.tag != "Response":
            raise SimulationError(f"{request} answered <{document.tag}>, not <Response>")
        return document

    def _note(self, hop: Hop, path: str) -> None:
        """Where the call went: the request, and the node and outcome the webhook logged."""
        shown = "".join(f"  {k}={hop.params[k]}" for k in SHOWN_PARAMS if k in hop.params)
        record = self.answered[-1] if self.answered else None
        where = ""
        if record is not None:
            node, outcome = record.get("node"), record.get("outcome")
            where = f"  ⇒ {node} ({outcome})" if node else f"  ⇒ ({outcome})"
            if outcome in FAILED_OUTCOMES or str(outcome).startswith("http-"):
                self.transcript.error = f"{hop.method.upper()} {path} failed ({outcome})"
        self._emit(f"→ {hop.method.upper()} {path}{shown}{where}")

    # Around the call

    @contextmanager
    def _clock(self, at: datetime | None) -> Iterator[None]:
        """The app's clock stopped at `at` for the call (the app's own clock otherwise)."""
        if at is None:
            yield
            return
        saved = self.app.config["CLOCK"]
        self.app.config["CLOCK"] = lambda: at
        try:
            yield
        finally:
            self.app.config["CLOCK"] = saved

    @contextmanager
    def _no_rest_api(self) -> Iterator[None]:
        """No REST request to Twilio during the call (an analyst's 1 dials the queue, as text).

        Otherwise a real waiting caller would be dequeued into a room nobody joins.
        """
        saved = self.app.config.get("TWILIO_ACCOUNT_SID", "")
        self.app.config["TWILIO_ACCOUNT_SID"] = ""
        try:
            yield
        finally:
            self.app.config["TWILIO_ACCOUNT_SID"] = saved

    @contextmanager
    def _listening(self) -> Iterator[None]:
        """Hear from the service itself where each webhook took the call (node, outcome)."""

        def heard(app: Flask, record: dict[str, Any]) -> None:
            """Keep what one webhook answered."""
            self.answered.append(record)

        with webhook_answered.connected_to(heard, sender=self.app):
            yield

    def _header(self, at: datetime | None) -> None:
        """Who is called, from where, when, and which line answers."""
        with self.app.app_context():
            line = get_lines().for_number(self.to)
        zone = ZoneInfo(line.spec.timezone if line else "UTC")
        when = (at or self.app.config["CLOCK"]()).astimezone(zone)
        who = f"línea {line.id} ({line.spec.name})" if line else "ninguna línea atiende"
        self._emit(f"☏ llamada simulada a {readable_number(self.to)} desde "
                   f"{readable_number(self.caller)}: {who}, {WEEKDAYS[when.weekday()]} "
                   f"{when:%Y-%m-%d %H:%M} ({zone.key})")

    def _footer(self) -> None:
        """Say what went wrong, if anything did."""
        if self.transcript.error:
            self._emit(f"✗ {self.transcript.error}")

    def _emit(self, text: str) -> None:
        """One line of the transcript, printed at once (the admin may be answering prompts)."""
        self.transcript.lines.append(text)
        if self.out is not None:
            self.out(text)
