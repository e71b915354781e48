"""The fault harness: hostile requests, a worker killed mid-load, the database taken away.

    .venv/bin/python -m bench.faults [--fuzz 100000] [--calls 2000] [--postgres URL]

Each drill says what was done, how many times, and what was lost (the goal: nothing).
A short version runs in CI (tests/test_faults.py), with the same code and smaller counts.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from twilio.request_validator import RequestValidator

from ivr import db

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = etree.XMLSchema(etree.parse(str(ROOT / "tests" / "data" / "twiml-voice.xsd")))
TOKEN = "fault-token"
PORT = 18_011
NUMBER_SAID = re.compile(r"Su número de caso es: ([0-9, ]+)\.")

LINES = ["certicamara", "cco", "nope", "", "x" * 300, "../../etc", "ñandú"]
NODES = ["principal", "soporte", "subasta", "supervisor", "prioridad_1", "incidente_critico",
         "consulta_caso", "nuevo_caso", "caso_opciones", "guardia", "mensaje_guardia",
         "no_such_node", "", "%00", "x" * 500]
ROUTES = ["menu", "dial", "queue", "wait", "screen", "screen/{node}/answer", "message",
          "message/{node}/transcribed", "case/{node}/read", "case/{node}/recorded",
          "case/{node}/transcribed", "case/{node}/entry"]
KEYS = ["Digits", "To", "From", "CallSid", "DialCallStatus", "DialBridged", "QueueResult",
        "QueueTime", "RecordingUrl", "RecordingDuration", "TranscriptionText",
        "TranscriptionStatus", "AccountSid", "CallStatus"]

hostile_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=400),
    st.sampled_from(["", " ", "0", "-1", "²", "٣", "１２", "9" * 5000, "\x00", "\r\n",
                     "<Say>x</Say>", "'; DROP TABLE cases; --", "%s%n", "{holiday}",
                     "+576017442727", "+582124713239", "sip:a@b", "completed", "true",
                     "false", "bridged", "leave", "25", "291", "*", "#", "1" * 8]),
    st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
)


@dataclass
class Tally:
    """What a drill counted."""

    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    invalid_twiml: int = 0
    examples: list[str] = field(default_factory=list)

    def bad(self, what: str) -> None:
        """Keep a few examples of what went wrong."""
        if len(self.examples) < 5:
            self.examples.append(what[:300])


def fuzz(post: Callable[[str, dict[str, str], str], tuple[int, bytes]], examples: int,
         validator: RequestValidator, base: str) -> Tally:
    """Signed requests with hostile values to every webhook: count 5xx and invalid TwiML."""
    tally = Tally()

    @settings(max_examples=examples, database=None, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(
        line=st.sampled_from(LINES), node=st.sampled_from(NODES),
        route=st.sampled_from(["", *ROUTES]),
        query=st.dictionaries(st.sampled_from(["f", "s", "t0", "n", "r", "x"]), hostile_text,
                              max_size=3),
        params=st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), hostile_text,
                               max_size=8),
    )
    def one(line: str, node: str, route: str, query: dict[str, str],
            params: dict[str, str]) -> None:
        """One signed request."""
        path = "/voice" if not route else (
            f"/voice/{urllib.parse.quote(line)}/{route.split('/')[0]}/{urllib.parse.quote(node)}"
            + ("/" + route.split("/", 2)[2] if route.count("/") == 2 else ""))
        if query:
            path += "?" + urllib.parse.urlencode(query)
        signature = validator.compute_signature(base + path, params)
        status, body = post(path, params, signature)
        tally.sent += 1
        tally.statuses[status] += 1
        if status >= 500:
            tally.bad(f"{status} {path} {params!r}")
        elif status == 200 and not _valid(body):
            tally.invalid_twiml += 1
            tally.bad(f"invalid TwiML for {path} {params!r}: {body[:200]!r}")

    one()
    return tally


def forged(post: Callable[[str, dict[str, str], str], tuple[int, bytes]],
           validator: RequestValidator, base: str) -> Tally:
    """Forged, missing and replayed-elsewhere signatures: every one must get 403."""
    tally = Tally()
    other = RequestValidator("some-other-token")
    params = {"To": "+576017442727", "CallSid": "CAforged", "Digits": "25"}
    good_for_voice = validator.compute_signature(base + "/voice", params)
    cases = [
        ("/voice", ""),
        ("/voice", "forged"),
        ("/voice", other.compute_signature(base + "/voice", params)),
        ("/voice/certicamara/menu/principal?f=0", good_for_voice),  # replayed to another URL
        ("/voice/certicamara/menu/principal?f=1", validator.compute_signature(
            base + "/voice/certicamara/menu/principal?f=0", params)),
        ("/voice/certicamara/case/nuevo_caso/recorded?n=12345674", good_for_voice),
    ]
    for path, signature in cases * 20:
        status, _ = post(path, params, signature)
        tally.sent += 1
        tally.statuses[status] += 1
        if status != 403:
            tally.bad(f"{status} for {path} signed {signature[:12]!r}")
    return tally


def _valid(body: bytes) -> bool:
    """Whether a body is a TwiML document the schema accepts."""
    try:
        return bool(SCHEMA.validate(etree.fromstring(body)))
    except etree.XMLSyntaxError:
        return False


# Drills against gunicorn, as deployed


@dataclass
class LoadResult:
    """What callers opening cases saw, and what the database kept."""

    requests: int = 0
    failed: int = 0
    numbers_told: dict[str, str] = field(default_factory=dict)  # CallSid -> number
    reached_people: int = 0
    after_hours_options: int = 0
    apologies: int = 0
    degraded: int = 0


def kill_worker(calls: int, tmp: Path) -> dict[str, Any]:
    """Open cases under load; SIGKILL a worker a third of the way; check every told number."""
    url = f"sqlite:///{tmp}/kill.sqlite3"
    with _service(url, tmp) as master:
        killed: list[int] = []

        def kill(done: int) -> None:
            """Kill one worker once, a third of the way in."""
            if not killed and done >= calls // 3:
                workers = _workers(master)
                if workers:
                    os.kill(workers[0], signal.SIGKILL)
                    killed.append(workers[0])

        result = _load(calls, "kill", on_progress=kill)
    stored = _stored(url)
    missing = [sid for sid, n in result.numbers_told.items() if stored.get(sid) != n]
    counts = Counter(stored.values())
    return {"drill": "SIGKILL one of 2 gunicorn workers a third of the way through the load",
            "requests": result.requests, "failed": result.failed,
            "numbers told": len(result.numbers_told), "told but not stored": len(missing),
            "numbers given twice": sum(1 for c in counts.values() if c > 1),
            "killed": len(killed)}


def database_away(calls: int, tmp: Path) -> dict[str, Any]:
    """Open cases under load; make the SQLite files unwritable half-way (chattr +i)."""
    if shutil.which("chattr") is None:
        return {"drill": "database made unwritable", "skipped": "chattr is not available"}
    url = f"sqlite:///{tmp}/away.sqlite3"
    # not the -shm index: SQLite maps it in memory, and a frozen mapping kills the process
    files = [tmp / "away.sqlite3", tmp / "away.sqlite3-wal"]
    frozen: list[Path] = []

    def freeze(done: int) -> None:
        """Make the database files immutable, once, half-way through."""
        if not frozen and done >= calls // 2:
            for path in files:
                if path.exists() and subprocess.run(["chattr", "+i", str(path)],
                                                    check=False).returncode == 0:
                    frozen.append(path)

    try:
        with _service(url, tmp):
            result = _load(calls, "away", on_progress=freeze)
    finally:
        for path in frozen:
            subprocess.run(["chattr", "-i", str(path)], check=False)
    return {"drill": "SQLite files made unwritable (chattr +i) half-way through the load",
            "requests": result.requests, "failed": result.failed,
            "put through (queue or dial)": result.reached_people,
            "team closed, on-call options offered": result.after_hours_options,
            "apologies": result.apologies,
            "told no number could be given": result.degraded,
            "frozen files": len(frozen)}


class _Proxy:
    """A TCP proxy in front of PostgreSQL that a drill can cut and restore."""

    def __init__(self, target: tuple[str, int], port: int) -> None:
        self.target, self.port = target, port
        self.sockets: list[socket.socket] = []
        self.listener: socket.socket | None = None
        self.lock = threading.Lock()

    def start(self) -> None:
        """Listen and forward every connection."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Refuse new connections and drop the open ones: the database is gone."""
        with self.lock:
            if self.listener is not None:
                self.listener.close()
                self.listener = None
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self.sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        """Accept until the listener is closed."""
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=3)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        """Copy bytes one way until either side closes."""
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.close()
                except OSError:
                    pass


def postgres_away(calls: int, tmp: Path, url: str) -> dict[str, Any]:
    """Open cases under load against PostgreSQL; cut it off a third of the way, restore it at
    two thirds: calls keep being answered, and every number told is stored."""
    parsed = sa.engine.make_url(db.database_url(url, str(tmp)))
    proxy = _Proxy((parsed.host or "127.0.0.1", parsed.port or 5432), PORT + 1)
    proxy.start()
    through = parsed.set(host="127.0.0.1", port=PORT + 1).render_as_string(hide_password=False)
    engine = sa.create_engine(db.database_url(url, str(tmp)))
    with engine.begin() as connection:
        for table in ("case_calls", "cases", "hours_overrides", "missed_calls", "callbacks",
                      "queue_waits", "analysts", "alembic_version"):
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    engine.dispose()
    phases: list[str] = []

    def cut_and_restore(done: int) -> None:
        """Cut PostgreSQL off at a third; bring it back at two thirds."""
        if not phases and done >= calls // 3:
            proxy.cut()
            phases.append("cut")
        elif phases == ["cut"] and done >= 2 * calls // 3:
            proxy.start()
            phases.append("restored")

    try:
        with _service(through, tmp):
            result = _load(calls, "pg", on_progress=cut_and_restore)
    finally:
        proxy.cut()
    stored = _stored(db.database_url(url, str(tmp)))
    missing = [sid for sid, n in result.numbers_told.items() if stored.get(sid) != n]
    return {"drill": "PostgreSQL cut off (a proxy dropped) a third of the way, back at two "
                     "thirds", "requests": result.requests, "failed": result.failed,
            "put through (queue or dial)": result.reached_people,
            "team closed, on-call options offered": result.after_hours_options,
            "apologies": result.apologies,
            "told no number could be given": result.degraded,
            "numbers told": len(result.numbers_told), "told but not stored": len(missing),
            "phases": "+".join(phases)}


def _load(calls: int, prefix: str, on_progress: Callable[[int], None],
          threads: int = 8) -> LoadResult:
    """`calls` whole calls, `threads` at once: press 1 in CCO's options menu (a new case),
    hear the number, say the description, and be queued for an analyst."""
    result = LoadResult()
    lock = threading.Lock()
    counter = iter(range(calls))

    def worker() -> None:
        """Place calls until they run out."""
        caller = _Caller()
        for i in counter:
            sid = f"CA{prefix}{i:028d}"
            ok, body, told = caller.whole_call(sid)
            with lock:
                result.requests += 1
                if not ok:
                    result.failed += 1
                else:
                    if told:
                        result.numbers_told[sid] = told
                    if "<Enqueue" in body or "<Dial" in body:
                        result.reached_people += 1
                    elif "<Gather" in body:  # the team is closed now: the on-call offer
                        result.after_hours_options += 1
                    if "problema técnico" in body:
                        result.apologies += 1
                    if told is None:
                        result.degraded += 1
                on_progress(result.requests)
        caller.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return result


class _Caller:
    """One keep-alive connection, placing calls the way Twilio does."""

    def __init__(self) -> None:
        self.validator = RequestValidator(TOKEN)
        self.connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)

    def post(self, path: str, params: dict[str, str]) -> str:
        """A signed POST; raises OSError or HTTPException on failure or a non-200."""
        base = f"http://127.0.0.1:{PORT}"
        headers = {"X-Twilio-Signature": self.validator.compute_signature(base + path, params),
                   "Content-Type": "application/x-www-form-urlencoded"}
        try:
            self.connection.request("POST", path, urllib.parse.urlencode(params), headers)
            response = self.connection.getresponse()
            body = response.read().decode()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
            raise
        if response.status != 200 or not _valid(body.encode()):
            raise http.client.HTTPException(f"{response.status} for {path}: {body[:200]}")
        return body

    def whole_call(self, sid: str) -> tuple[bool, str, str | None]:
        """Press 1 for a new case, then silence, then a description: (ok, last body, number)."""
        params = {"CallSid": sid, "From": "+584140000000", "To": "+582124713239"}
        try:
            body = self.post("/voice/cco/menu/caso_opciones?f=0", {**params, "Digits": "1"})
            said = NUMBER_SAID.search(body)
            told = said.group(1).replace(", ", "") if said else None
            if told:  # the number was read: no key, then the description, then the queue
                record = self.post(_first(body, "Redirect"), params)
                body = self.post(etree.fromstring(record.encode()).find("Record").get("action"),
                                 {**params, "RecordingUrl": "https://api.twilio.com/rec/RE1",
                                  "RecordingDuration": "12"})
            return True, body, told
        except (OSError, http.client.HTTPException):
            return False, "", None

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()


def _first(body: str, tag: str) -> str:
    """The text of the first `tag` element of a TwiML document (a Redirect's URL)."""
    element = etree.fromstring(body.encode()).find(tag)
    return element.text if element is not None and element.text else ""


def _stored(url: str) -> dict[str, str]:
    """Every stored case: CallSid -> number."""
    engine = sa.create_engine(db.database_url(url, tempfile.gettempdir()))
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT call_sid, number FROM cases")).all()
    engine.dispose()
    return {sid: number for sid, number in rows}


@contextmanager
def _service(url: str, tmp: Path) -> Iterator[int]:
    """gunicorn with the project's config and 2 workers on `url`; yields the master's pid."""
    env = {**os.environ, "TWILIO_AUTH_TOKEN": TOKEN, "DATABASE_URL": url,
           "WEB_CONCURRENCY": "2", "LOG_LEVEL": "WARNING", "IVR_DB_RETRY_SECONDS": "1"}
    log = open(tmp / "service.log", "a")  # noqa: SIM115 - closed below
    command = [str(Path(sys.executable).with_name("gunicorn")), "-c", "gunicorn.conf.py",
               "--bind", f"127.0.0.1:{PORT}", "--access-logfile", "/dev/null", "wsgi:app"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", PORT)) == 0:
                    break
            time.sleep(0.1)
        while len(_workers(process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        yield process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def _workers(master: int) -> list[int]:
    """The worker pids of a gunicorn master."""
    pids = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if f"\nPPid:\t{master}\n" in text:
            pids.append(int(status.parent.name))
    return sorted(pids)


def in_process_post(app: Any) -> Callable[[str, dict[str, str], str], tuple[int, bytes]]:
    """A `post` for the drills that calls a Flask app in process (as the CI version does)."""
    client = app.test_client()

    def post(path: str, params: dict[str, str], signature: str) -> tuple[int, bytes]:
        """POST form params with a signature header."""
        response = client.post(path, data=params, headers={"X-Twilio-Signature": signature})
        return response.status_code, response.data

    return post


def main(argv: list[str] | None = None) -> int:
    """Run every drill and print the report as Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fuzz", type=int, default=100_000, help="hostile requests")
    parser.add_argument("--calls", type=int, default=2_000, help="calls per load drill")
    parser.add_argument("--postgres", help="also cut this PostgreSQL off mid-run (its tables "
                                           "are dropped and recreated)")
    options = parser.parse_args(argv)
    from ivr import create_app

    with tempfile.TemporaryDirectory(prefix="ivr-faults-") as name:
        tmp = Path(name)
        app = create_app({"TWILIO_AUTH_TOKEN": TOKEN, "LOG_LEVEL": "ERROR",
                          "DATABASE_URL": f"sqlite:///{tmp}/fuzz.sqlite3"})
        post = in_process_post(app)
        validator = RequestValidator(TOKEN)
        started = time.monotonic()
        fuzzed = fuzz(post, options.fuzz, validator, "http://localhost")
        fuzz_seconds = time.monotonic() - started
        forgeries = forged(post, validator, "http://localhost")
        app.extensions["ivr.engine"].dispose()
        killed = kill_worker(options.calls, tmp)
        away = database_away(options.calls, tmp)
        drills = [killed, away]
        if options.postgres:
            drills.append(postgres_away(options.calls, tmp, options.postgres))
    print(report(fuzzed, fuzz_seconds, forgeries, drills))
    lost = (fuzzed.statuses.get(500, 0) + fuzzed.invalid_twiml
            + sum(v for k, v in forgeries.statuses.items() if k != 403)
            + killed["told but not stored"] + killed["numbers given twice"])
    return 1 if lost else 0


def report(fuzzed: Tally, seconds: float, forgeries: Tally,
           drills: list[dict[str, Any]]) -> str:
    """The drills as Markdown tables."""
    five = sum(v for k, v in fuzzed.statuses.items() if k >= 500)
    out = ["| drill | how many | lost |", "| --- | ---: | --- |",
           f"| signed requests with hostile values to every webhook ({seconds:.0f} s) | "
           f"{fuzzed.sent:,} | {five} answered 5xx, {fuzzed.invalid_twiml} not valid TwiML "
           f"(statuses: {dict(sorted(fuzzed.statuses.items()))}) |",
           f"| forged, missing, other-token and replayed-elsewhere signatures | "
           f"{forgeries.sent} | {forgeries.sent - forgeries.statuses.get(403, 0)} not refused |"]
    out.append("")
    for drill in drills:
        out.append(f"**{drill.pop('drill')}**: " + ", ".join(f"{k}: {v}"
                                                             for k, v in drill.items()))
        out.append("")
    if fuzzed.examples or forgeries.examples:
        out += ["Examples of failures:", *[f"- {e}" for e in fuzzed.examples +
                                           forgeries.examples]]
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
