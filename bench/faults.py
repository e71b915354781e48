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
import ssl
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
    answered: int = 0  # 200 with a TwiML document the schema accepts
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
        if status != 200:  # signed: every answer is TwiML, a wrong key an apology
            tally.bad(f"{status} {path} {params!r}")
        if not _valid(body):  # whatever the status: Twilio reads the body of any answer
            tally.invalid_twiml += 1
            tally.bad(f"invalid TwiML ({status}) for {path} {params!r}: {body[:200]!r}")
        elif status == 200:
            tally.answered += 1

    one()
    return tally


FORGED_PARAMS = {"To": "+576017442727", "CallSid": "CAforged", "Digits": "25"}
FORGED_PATHS = ["/voice", "/voice/certicamara/menu/principal?f=0",
                "/voice/certicamara/menu/principal?f=1",
                "/voice/certicamara/case/nuevo_caso/recorded?n=12345674"]


def genuine(post: Callable[[str, dict[str, str], str], tuple[int, bytes]],
            validator: RequestValidator, base: str) -> Tally:
    """The requests `forged` sends, signed as Twilio signs them: every one must get its TwiML
    (so that the 403s there are the signatures' doing, not a service that refuses all)."""
    tally = Tally()
    for path in FORGED_PATHS * 5:
        status, body = post(path, FORGED_PARAMS,
                            validator.compute_signature(base + path, FORGED_PARAMS))
        tally.sent += 1
        tally.statuses[status] += 1
        if status == 200 and _valid(body):
            tally.answered += 1
        else:
            tally.bad(f"{status} for a genuine {path}: {body[:200]!r}")
    return tally


def forged(post: Callable[[str, dict[str, str], str], tuple[int, bytes]],
           validator: RequestValidator, base: str) -> Tally:
    """Forged, missing and replayed-elsewhere signatures: every one must get 403."""
    tally = Tally()
    other = RequestValidator("some-other-token")
    params = FORGED_PARAMS
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
    slowest: float = 0.0  # seconds, the slowest whole call


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
                # shut down first: a thread blocked in accept() keeps a closed socket listening
                try:
                    self.listener.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
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
    db.drop_schema(engine)
    engine.dispose()
    phases: list[str] = []
    turn = threading.Lock()

    def cut_and_restore(done: int) -> None:
        """Cut PostgreSQL off at a third; bring it back at two thirds (once each: the load's
        threads report their progress at the same time)."""
        with turn:
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
          threads: int = 8, base: str | None = None, cafile: Path | None = None) -> LoadResult:
    """`calls` whole calls, `threads` at once: press 1 in CCO's options menu (a new case),
    hear the number, say the description, and be queued for an analyst."""
    result = LoadResult()
    lock = threading.Lock()
    counter = iter(range(calls))

    def worker() -> None:
        """Place calls until they run out."""
        caller = _Caller(base, cafile)
        for i in counter:
            sid = f"CA{prefix}{i:028d}"
            started = time.monotonic()
            ok, body, told = caller.whole_call(sid)
            with lock:
                result.slowest = max(result.slowest, time.monotonic() - started)
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

    def __init__(self, base: str | None = None, cafile: Path | None = None) -> None:
        self.validator = RequestValidator(TOKEN)
        self.base = base or f"http://127.0.0.1:{PORT}"
        self.cafile = cafile
        self.connection = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        """A new connection to the service (HTTPS through the proxy, with its test CA)."""
        url = urllib.parse.urlsplit(self.base)
        if url.scheme == "https":
            context = ssl.create_default_context(cafile=str(self.cafile))
            return http.client.HTTPSConnection(url.hostname or "", url.port, timeout=10,
                                               context=context)
        return http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)

    def post(self, path: str, params: dict[str, str]) -> str:
        """A signed POST; raises OSError or HTTPException on failure or a non-200."""
        base = self.base
        path = path.removeprefix(base)  # absolute URLs, under PUBLIC_BASE_URL
        headers = {"X-Twilio-Signature": self.validator.compute_signature(base + path, params),
                   "Content-Type": "application/x-www-form-urlencoded"}
        try:
            self.connection.request("POST", path, urllib.parse.urlencode(params), headers)
            response = self.connection.getresponse()
            body = response.read().decode()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.connection = self._connect()
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
def _service(url: str, tmp: Path, **settings: str) -> Iterator[int]:
    """The README's command, `gunicorn wsgi:app` (the repo's gunicorn.conf.py, 2 workers), on
    loopback with the database `url` and extra `settings`; yields the master's pid."""
    env = {**os.environ, "TWILIO_AUTH_TOKEN": TOKEN, "DATABASE_URL": url,
           "WEB_CONCURRENCY": "2", "LOG_LEVEL": "WARNING", "IVR_DB_RETRY_SECONDS": "1",
           "BIND": f"127.0.0.1:{PORT}", **settings}
    log = open(tmp / "service.log", "a")  # noqa: SIM115 - closed below
    command = [str(Path(sys.executable).with_name("gunicorn")), "wsgi:app"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        _wait_for_port(PORT, deadline)
        while len(_workers(process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        yield process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def _wait_for_port(port: int, deadline: float) -> None:
    """Poll until something accepts connections on `port` (or the deadline passes)."""
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)


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


# Hostile traffic at the door: stalled clients, oversized bodies, a request lost with its worker

PROXY_PORT = PORT + 2
HALF_HEADER = b"POST /voice HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: applica"


def slow_clients(held: int, calls: int, tmp: Path, proxy: bool = False) -> dict[str, Any]:
    """Hold `held` connections that sent half a request header, then place `calls` whole
    calls: straight at `gunicorn wsgi:app`, or through nginx (deploy/nginx/ivr.conf, TLS)."""
    url = f"sqlite:///{tmp}/slow-{int(proxy)}.sqlite3"
    base = f"https://localhost:{PROXY_PORT}" if proxy else f"http://127.0.0.1:{PORT}"
    settings = {"PUBLIC_BASE_URL": base, "TRUSTED_PROXIES": "1"} if proxy else {}
    with _service(url, tmp, **settings), (_nginx(tmp, PROXY_PORT, PORT) if proxy
                                          else _no_proxy()) as cafile:
        stalled = [_stall(PROXY_PORT if proxy else PORT, cafile) for _ in range(held)]
        started = time.monotonic()
        result = _load(calls, f"slow{int(proxy)}", on_progress=lambda done: None, threads=4,
                       base=base, cafile=cafile)
        seconds = time.monotonic() - started
        still = sum(1 for s in stalled if _still_open(s))
        for s in stalled:
            s.close()
    where = "through nginx (TLS, deploy/nginx/ivr.conf)" if proxy else "at `gunicorn wsgi:app`"
    return {"drill": f"{held} connections that sent half a request header and stopped, held "
                     f"open {where} while {calls} whole calls were placed (4 at a time)",
            "stalled connections": held, "still held at the end": still,
            "calls": result.requests, "failed": result.failed,
            "numbers told": len(result.numbers_told),
            "slowest call (s)": round(result.slowest, 2), "seconds": round(seconds, 1)}


@contextmanager
def _no_proxy() -> Iterator[None]:
    """No proxy: calls go straight to gunicorn."""
    yield None


def _stall(port: int, cafile: Path | None) -> socket.socket:
    """A connection that sends half a request header (after TLS, through the proxy), then
    nothing."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock: socket.socket = raw
    if cafile is not None:
        sock = ssl.create_default_context(cafile=str(cafile)).wrap_socket(
            raw, server_hostname="localhost")
    sock.sendall(HALF_HEADER)
    return sock


def _still_open(sock: socket.socket) -> bool:
    """Whether the server still holds a connection open (nothing to read, not closed)."""
    sock.setblocking(False)
    try:
        return bool(sock.recv(1))  # an answer would be data; b"" is a close
    except (BlockingIOError, ssl.SSLWantReadError):
        return True
    except OSError:
        return False


@contextmanager
def _nginx(tmp: Path, port: int, upstream: int) -> Iterator[Path]:
    """nginx with the shipped server configuration on loopback `port`, a self-signed
    certificate for `localhost` made now; yields the certificate (the callers' CA)."""
    cert, key = tmp / "tls.pem", tmp / "tls.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    conf = tmp / "nginx.conf"
    conf.write_text(nginx_config(tmp, port, upstream, cert, key))
    process = subprocess.Popen(["nginx", "-p", str(tmp), "-e", str(tmp / "nginx-error.log"),
                                "-c", str(conf)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, time.monotonic() + 20)
        yield cert
    finally:
        process.terminate()
        process.wait(timeout=20)


def nginx_config(tmp: Path, port: int, upstream: int, cert: Path, key: Path) -> str:
    """deploy/nginx/ivr.conf on loopback ports with a test certificate, in a whole nginx.conf
    whose files all live in `tmp`."""
    shipped = (ROOT / "deploy" / "nginx" / "ivr.conf").read_text()
    text = re.sub(r"^\s*listen \[::\]:443.*\n", "", shipped, flags=re.MULTILINE)
    for old, new in (("listen 443 ssl", f"listen 127.0.0.1:{port} ssl"),
                     ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};"),
                     ("server_name ivr.example.com;", "server_name localhost;"),
                     ("/etc/ssl/certs/ivr.example.com.pem", str(cert)),
                     ("/etc/ssl/private/ivr.example.com.key", str(key))):
        if old not in text:
            raise ValueError(f"deploy/nginx/ivr.conf no longer has {old!r}")
        text = text.replace(old, new)
    temp = "\n".join(f"{kind}_temp_path {tmp}/nginx-{kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root;" if os.geteuid() == 0 else ""
    return (f"{user}\ndaemon off;\nworker_processes 1;\npid {tmp}/nginx.pid;\n"
            f"error_log {tmp}/nginx-error.log warn;\nevents {{ worker_connections 4096; }}\n"
            f"http {{\naccess_log off;\n{temp}\n{text}\n}}\n")


def hostile_bodies(tmp: Path) -> list[dict[str, Any]]:
    """Oversized, chunked, malformed and unsigned requests at `gunicorn wsgi:app`: each one's
    status, time, and whether its answer is TwiML; then whether the log holds a forged line."""
    validator = RequestValidator(TOKEN)
    form = "application/x-www-form-urlencoded"
    fields = "&".join(f"f{i}=x" for i in range(116_000)).encode()
    good = urllib.parse.urlencode({"CallSid": "CA" + "1" * 32, "To": "+582124713239"}).encode()
    signed = validator.compute_signature(f"http://127.0.0.1:{PORT}/voice",
                                         dict(urllib.parse.parse_qsl(good.decode())))
    cases = [
        ("1 MB of form fields (116,000), Content-Length, any signature", "/voice",
         {"Content-Type": form, "X-Twilio-Signature": "A" * 27 + "="}, fields, False),
        ("the same 1 MB chunked (no Content-Length)", "/voice",
         {"Content-Type": form, "X-Twilio-Signature": "A" * 27 + "="}, fields, True),
        ("a signature header that is not base64 of an HMAC", "/voice",
         {"Content-Type": form, "X-Twilio-Signature": "x" * 5000}, good, False),
        ("binary garbage as a multipart body, with a well-formed signature", "/voice",
         {"Content-Type": "multipart/form-data; boundary=zz", "X-Twilio-Signature": signed},
         bytes(range(256)) * 40, False),
        ("unsigned, an unknown path under /voice", "/voice/no/such/thing",
         {"Content-Type": form}, b"CallSid=CAchosen-by-sender", False),
        ("unsigned, a path holding %0A and a forged log line", "/voice/x%0A2026-01-01%2000:00"
         ":00,000%20INFO%20ivr.calls%20FORGED", {"Content-Type": form}, good, False),
        ("a well-formed signed call (for comparison)", "/voice",
         {"Content-Type": form, "X-Twilio-Signature": signed}, good, False),
    ]
    out = []
    with _service(f"sqlite:///{tmp}/bodies.sqlite3", tmp, LOG_LEVEL="INFO"):
        for name, path, headers, body, chunked in cases:
            started = time.monotonic()
            status, answer = _raw_request(path, headers, body, chunked)
            out.append({"sent": name, "status": status,
                        "ms": round((time.monotonic() - started) * 1000, 1),
                        "TwiML": _valid(answer) if answer.lstrip().startswith(b"<?xml")
                        else False})
    log_text = (tmp / "service.log").read_text(errors="replace")
    forged = [line for line in log_text.splitlines() if line.startswith("2026-01-01")]
    out.append({"sent": "log lines forged by the %0A path", "status": len(forged), "ms": 0,
                "TwiML": None})
    out.append({"sent": "tracebacks in the service log", "status": log_text.count("Traceback"),
                "ms": 0, "TwiML": None})
    return out


def _raw_request(path: str, headers: dict[str, str], body: bytes,
                 chunked: bool) -> tuple[int, bytes]:
    """Send one request by hand (headers first; the body only as long as the server reads)."""
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{PORT}", "Connection: close",
             *(f"{k}: {v}" for k, v in headers.items()),
             "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"]
    with socket.create_connection(("127.0.0.1", PORT), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        if not chunked and len(body) <= 65_536:
            sock.sendall(body)
        elif chunked:
            try:
                for i in range(0, len(body), 16_384):
                    piece = body[i:i + 16_384]
                    sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                sock.sendall(b"0\r\n\r\n")
            except OSError:
                pass  # the server answered and closed before the end: that is the point
        response = b""
        try:
            while chunk := sock.recv(65_536):
                response += chunk
        except OSError:
            pass
    head, _, answer = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, answer


def fallback_replay(tmp: Path) -> dict[str, Any]:
    """A webhook in flight when its worker is SIGKILLed is lost; Twilio replays it at the
    number's fallback URL (the original parameters plus ErrorCode): the caller reaches people."""
    params = {"CallSid": "CA" + "7" * 32, "From": "+584140000000", "To": "+582124713239",
              "Digits": "1"}
    path = "/voice/cco/menu/principal?f=0"
    base = f"http://127.0.0.1:{PORT}"
    validator = RequestValidator(TOKEN)
    body = urllib.parse.urlencode(params).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\nContent-Type: "
            f"application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
            f"X-Twilio-Signature: {validator.compute_signature(base + path, params)}\r\n\r\n")
    with _service(f"sqlite:///{tmp}/fallback.sqlite3", tmp) as master:
        sock = socket.create_connection(("127.0.0.1", PORT), timeout=10)
        sock.sendall(head.encode() + body[: len(body) // 2])  # in flight: the rest never comes
        deadline = time.monotonic() + 10
        holder = None
        while holder is None and time.monotonic() < deadline:
            holder = _holder(master, sock.getsockname()[1])
            time.sleep(0.05)
        if holder is None:
            raise RuntimeError("no worker holds the request in flight")
        os.kill(holder, signal.SIGKILL)
        killed_at = time.monotonic()
        try:
            lost = sock.recv(100) == b""
        except OSError:
            lost = True
        sock.close()
        caller = _Caller()
        answer = caller.post("/voice/fallback", {**params, "ErrorCode": "11200",
                                                 "ErrorUrl": base + path})
        seconds = time.monotonic() - killed_at
        caller.close()
    return {"drill": "a signed key press in flight (half its body sent) when its worker was "
                     "SIGKILLed, then replayed at /voice/fallback as Twilio does",
            "request lost with the worker": lost,
            "fallback answered": _valid(answer.encode()),
            "caller reaches people": "<Enqueue" in answer or "<Dial" in answer,
            "apology said": "problema técnico" in answer,
            "kill to fallback answer (s)": round(seconds, 3)}


def _holder(master: int, client_port: int) -> int | None:
    """The gunicorn worker holding the server side of our connection from `client_port`."""
    wanted = f"0100007F:{PORT:04X} 0100007F:{client_port:04X}"
    inode = None
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        cols = row.split()
        if f"{cols[1]} {cols[2]}" == wanted:
            inode = cols[9]
    if inode is None:
        return None
    for pid in _workers(master):
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        if f"socket:[{inode}]" in links:
            return pid
    return None


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
        genuines = genuine(post, validator, "http://localhost")
        app.extensions["ivr.engine"].dispose()
        killed = kill_worker(options.calls, tmp)
        away = database_away(options.calls, tmp)
        drills = [killed, away, fallback_replay(tmp), slow_clients(48, options.calls, tmp)]
        if shutil.which("nginx") and shutil.which("openssl"):
            drills.append(slow_clients(500, options.calls, tmp, proxy=True))
        bodies = hostile_bodies(tmp)
        if options.postgres:
            drills.append(postgres_away(options.calls, tmp, options.postgres))
    print(report(fuzzed, fuzz_seconds, forgeries, drills, genuines))
    print("\n| sent to `gunicorn wsgi:app` | status | ms | TwiML |\n| --- | ---: | ---: | --- |")
    for row in bodies:
        print(f"| {row['sent']} | {row['status']} | {row['ms']} | {row['TwiML']} |")
    lost = (fuzzed.sent - fuzzed.answered + genuines.sent - genuines.answered
            + fuzzed.statuses.get(500, 0) + fuzzed.invalid_twiml
            + sum(v for k, v in forgeries.statuses.items() if k != 403)
            + killed["told but not stored"] + killed["numbers given twice"])
    return 1 if lost else 0


def report(fuzzed: Tally, seconds: float, forgeries: Tally,
           drills: list[dict[str, Any]], genuines: Tally | None = None) -> str:
    """The drills as Markdown tables."""
    five = sum(v for k, v in fuzzed.statuses.items() if k >= 500)
    out = ["| drill | how many | lost |", "| --- | ---: | --- |",
           f"| signed requests with hostile values to every webhook ({seconds:.0f} s) | "
           f"{fuzzed.sent:,} | {five} answered 5xx, {fuzzed.invalid_twiml} not valid TwiML "
           f"(statuses: {dict(sorted(fuzzed.statuses.items()))}) |",
           f"| forged, missing, other-token and replayed-elsewhere signatures | "
           f"{forgeries.sent} | {forgeries.sent - forgeries.statuses.get(403, 0)} not refused |"]
    if genuines is not None:
        out.append(f"| the same requests, genuinely signed | {genuines.sent} | "
                   f"{genuines.sent - genuines.answered} without their TwiML |")
    out.append("")
    for drill in drills:
        out.append(f"**{drill.pop('drill')}**: " + ", ".join(f"{k}: {v}"
                                                             for k, v in drill.items()))
        out.append("")
    others = genuines.examples if genuines is not None else []
    if fuzzed.examples or forgeries.examples or others:
        out += ["Examples of failures:", *[f"- {e}" for e in fuzzed.examples +
                                           forgeries.examples + others]]
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
