"""The side-by-side benchmark: the service as deployed against a constant-TwiML floor.

    .venv/bin/python -m bench.run [--duration 3] [--connections 1,8,32] [--postgres URL]
                                  [--peer /path/to/ivr-phone-tree-python] [--only SCENARIO]
    .venv/bin/python -m bench.run --capacity --postgres URL   # calls/s per core, scaling

Starts gunicorn with the project's gunicorn.conf.py (gthread, 2 workers) twice: once serving
the shipped menus on a fresh SQLite database (and once more on PostgreSQL when a URL is
given), once serving `bench.floor` (a constant document of the same size, no signature check)
with the same settings, so the same worker model. With --peer, a third gunicorn (same settings
again) serves the `app` of a checkout of Twilio's public IVR sample
(TwilioDevEd/ivr-phone-tree-python, its UTF-8 BOM stripped from views.py; never committed
here) and its welcome webhook is measured too. wrk, a separate process, sends real signed
Twilio requests, scenario by scenario; every figure is reported next to the floor measured in
the same run, in turns. Each request is of a call of its own and no run replays another's
calls (`Feeds`), so every look-up writes its note and every new case opens a case. Needs wrk
(Debian package `wrk`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from ivr import db
from ivr.core import check_digit
from ivr.store.tables import Callback, Case

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"
SERVICE_PORT, FLOOR_PORT, PEER_PORT, SECOND_PORT, BASELINE_PORT = (
    18_001, 18_002, 18_003, 18_004, 18_005)
PEER = "Twilio's IVR sample, welcome (no signature check)"
PEER_APP = "ivr_phone_tree_python:app"
SEEDED_CASES = 1_000
CALLS = 60_000  # signed requests per scenario (--calls), each of a call of its own
WINDOW_PER_SECOND = 8_000  # requests handed to one wrk run per second of it (none does more)
# Where each scenario's calls are numbered from (CallSid CA<number>): the scenarios that write
# draw from ranges of their own, so that no scenario replays a call another one stored.
LOOK_UPS, WAITS, MIX, NEW_CASES = 10**8, 2 * 10**8, 3 * 10**8, 10**9
SECOND_CALLS = 5 * 10**7  # a second server's calls: the same ranges, shifted
# What these answer stores nothing per call, so a replayed call is the same work: their lists
# may be cycled (the menus from memory, the floor's constant document, the sample's welcome).
STATELESS = frozenset({"floor", PEER, "incoming call", "menu key", "type-ahead",
                       "priority-1 dial"})
CALLER = "+573001234567"
CCO_CALLER = "+584141112233"


@dataclass(frozen=True)
class Ports:
    """Where each server of a run listens: the service's port (--port-base) and the next ones."""

    service: int
    floor: int
    peer: int
    second: int
    baseline: int

    @classmethod
    def from_base(cls, base: int) -> Ports:
        """The service on `base`, the floor on the next port, then the peer and the others."""
        return cls(base, base + 1, base + 2, base + 3, base + 4)


@dataclass(frozen=True)
class Result:
    """One wrk run."""

    scenario: str
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    cpu_s: float = 0.0  # CPU seconds the server's workers spent during the run
    requests: int = 0  # requests answered during the run
    db_cpu_s: float = 0.0  # CPU seconds this machine's PostgreSQL spent during the run
    sent: int = 0  # how far into its list of requests the run went (the next run goes on)


@dataclass
class Feeds:
    """Where each list of requests goes on from, so that no wrk run replays an earlier one's.

    A write replayed is not a write: a new case's second try for the same CallSid answers
    with the case already opened, a look-up's note is there already. So each run starts
    where the last run of its list (the service's or the baseline's: the same calls, on the
    same database) stopped, and a list used up is reported (`replayed`), not silently cycled.
    """

    sent: dict[str, int] = field(default_factory=dict)
    replayed: set[str] = field(default_factory=set)

    def start(self, key: str) -> int:
        """Where the next run of list `key` starts."""
        return self.sent.get(key, 0)

    def advance(self, key: str, result: Result, length: int, duration: int) -> None:
        """Move list `key` past what `result`'s run sent; note a list or window used up."""
        start = self.start(key)
        if result.sent > window(length, duration) or start + result.sent > length:
            self.replayed.add(key)
        self.sent[key] = start + result.sent


def main(argv: list[str] | None = None) -> int:
    """Run every scenario at every concurrency, against the service and the floor."""
    options = _arguments(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    connections = [int(c) for c in options.connections.split(",")]
    peer = Path(options.peer).resolve() if options.peer else None
    baseline = Path(options.baseline).resolve() if options.baseline else None
    with tempfile.TemporaryDirectory(prefix="ivr-bench-") as tmp:
        backends = {"sqlite": f"sqlite:///{tmp}/bench.sqlite3"}
        if options.postgres:
            backends["postgresql"] = options.postgres
            if options.postgres_only:
                del backends["sqlite"]
        report = [_header(options)]
        for name, url in backends.items():
            if options.capacity:
                report.append(_capacity(name, url, Path(tmp), options.duration, options.rounds,
                                        options.calls))
                continue
            report.append(_run_backend(name, url, Path(tmp), connections, options.duration,
                                       options.rounds, peer, options.only, baseline,
                                       Ports.from_base(options.port_base), options.calls))
    text = "\n".join(report)
    print(text)
    if options.out:
        Path(options.out).write_text(text + "\n", encoding="utf-8")
    return 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3,
                        help="turns of floor and service per cell (the median is reported)")
    parser.add_argument("--connections", default="1,8,32")
    parser.add_argument("--calls", type=int, default=CALLS,
                        help="signed requests per scenario, each of its own call (a run that "
                             "uses them up is reported as replayed)")
    parser.add_argument("--postgres", help="also run on this PostgreSQL URL (its tables are "
                                           "dropped and recreated)")
    parser.add_argument("--postgres-only", action="store_true", help="skip SQLite")
    parser.add_argument("--baseline", help="another checkout of this service (say, main "
                                           "before a change): measured in the same turns")
    parser.add_argument("--peer", help="a checkout of TwilioDevEd/ivr-phone-tree-python (BOM "
                                       "stripped from views.py): measure its welcome webhook")
    parser.add_argument("--capacity", action="store_true",
                        help="instead: calls per CPU-second, 1 and 2 workers, two servers")
    parser.add_argument("--out", help="also write the Markdown report to this file")
    parser.add_argument("--only", action="append", metavar="SCENARIO",
                        help="run only this scenario (repeatable; default: all)")
    parser.add_argument("--port-base", type=int, default=SERVICE_PORT,
                        help="the service's port; the floor's is the next one")
    return parser.parse_args(argv)


def _header(options: argparse.Namespace) -> str:
    """Where and when this ran."""
    cpu = _cpu_model()
    return (f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}: {cpu}, "
            f"{os.cpu_count()} cores, Python {platform.python_version()}, "
            f"gunicorn with gunicorn.conf.py, 2 workers; per cell, {options.rounds} turns of "
            f"{options.duration} s of the floor then the service, medians reported.\n")


def _cpu_model() -> str:
    """The processor's name, from /proc/cpuinfo."""
    try:
        for row in Path("/proc/cpuinfo").read_text().splitlines():
            if row.startswith("model name"):
                return row.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def service_env(url: str, workers: int = 2) -> dict[str, str]:
    """The service's environment: the bench's token, this database, INFO logs (the default)."""
    return {**os.environ, "TWILIO_AUTH_TOKEN": TOKEN, "DATABASE_URL": url,
            "WEB_CONCURRENCY": str(workers), "LOG_LEVEL": "INFO"}


def _run_backend(name: str, url: str, tmp: Path, connections: list[int], duration: int,
                 rounds: int, peer: Path | None, only: list[str] | None,
                 baseline: Path | None = None, ports: Ports | None = None,
                 calls: int = CALLS) -> str:
    """All scenarios (or `only` these) on one database, with the floor (and the peer, the
    baseline) measured alongside."""
    ports = ports or Ports.from_base(SERVICE_PORT)
    numbers = seed_cases(url, SEEDED_CASES, calls)
    feeds = Feeds()
    log = open(tmp / f"service-{name}.log", "w")  # noqa: SIM115 - closed below
    with _gunicorn("wsgi:app", ports.service, service_env(url), log) as service:
        size = len(_post(ports.service, "/voice", {"To": "+576017442727", "CallSid": "CAsize"}))
        floor_env = {**os.environ, "FLOOR_BYTES": str(size), "WEB_CONCURRENCY": "2"}
        with _gunicorn("bench.floor:app", ports.floor, floor_env, log) as floor, \
                _maybe_peer(peer, log, ports.peer) as peer_pid, \
                _maybe_baseline(baseline, url, log, ports.baseline) as baseline_pid:
            scenarios = build_scenarios(numbers, ports.service, calls)
            base = build_scenarios(numbers, ports.baseline, calls) if baseline_pid else {}
            targets = {s: (ports.service, r) for s, r in scenarios.items()
                       if not only or s in only}
            if peer_pid:
                targets[PEER] = (ports.peer, peer_requests(len(scenarios["incoming call"])))
            rows = []
            for scenario, (port, requests) in targets.items():
                cells = {}
                for c in connections:
                    masters = {ports.floor: floor, ports.service: service, ports.peer: peer_pid,
                               ports.baseline: baseline_pid}
                    cells[c] = _paired(tmp, scenario, port, requests,
                                       scenarios["incoming call"], c, duration, rounds,
                                       base.get(scenario), masters, ports, feeds)
                rows.append((scenario, cells))
            memory = {"service": _peak_memory(service), "floor": _peak_memory(floor),
                      "service private": _private_memory(service),
                      "floor private": _private_memory(floor)}
            if peer_pid:
                memory["peer"] = _peak_memory(peer_pid)
                memory["peer private"] = _private_memory(peer_pid)
            if baseline_pid:
                memory["baseline"] = _peak_memory(baseline_pid)
                memory["baseline private"] = _private_memory(baseline_pid)
    log.close()
    return _table(name, size, rows, memory, connections, feeds.replayed)


def _capacity(name: str, url: str, tmp: Path, duration: int, rounds: int,
              calls: int = CALLS) -> str:
    """Calls per CPU-second of the workers, and how throughput grows with workers and servers.

    The mix of whole calls at 32 connections against: one server with 1 worker, one with 2,
    and two servers of 1 worker each on the same database (two machines, simulated here: each
    gets its own wrk of 16 connections, run at the same time). The workers' own CPU time
    (from /proc) gives calls per CPU-second whatever else shares the machine; on PostgreSQL
    (on this machine) its own CPU time too: what one database core sustains, which bounds how
    many machines one PostgreSQL serves.
    """
    numbers = seed_cases(url, SEEDED_CASES, calls)
    log = open(tmp / f"capacity-{name}.log", "w")  # noqa: SIM115 - closed below
    scenarios = build_scenarios(numbers, SERVICE_PORT, calls)
    mix = scenarios["mix of whole calls"]
    per_call = len(mix) / len(scenarios["incoming call"])
    # the second server's callers are other callers (their own CallSids)
    second = build_scenarios(numbers, SECOND_PORT, calls, SECOND_CALLS)["mix of whole calls"]
    feeds = Feeds()
    rows = []
    server = name == "postgresql"
    for label, workers, servers in (("1 server, 1 worker", 1, 1),
                                    ("1 server, 2 workers", 2, 1),
                                    ("2 servers, 1 worker each", 1, 2)):
        runs = []
        with _gunicorn("wsgi:app", SERVICE_PORT, service_env(url, workers), log) as one, \
                _maybe_second(servers, url, log) as two:
            for _ in range(rounds):
                runs.append(_together(tmp, [(SERVICE_PORT, mix, one), (SECOND_PORT, second, two)]
                                      [:servers], 32, duration, feeds))
        rps, p99, cpu, db_cpu = sorted(runs)[len(runs) // 2]
        per_second = rps / per_call
        row = (f"| {label} | {rps:,.0f} | {per_second:,.0f} | {p99:.1f} | {cpu / duration:.2f} | "
               f"{per_second / (cpu / duration):,.0f} |")
        if server:
            row += (f" {db_cpu / duration:.2f} | {per_second / (db_cpu / duration or 1):,.0f} | "
                    f"{per_second / ((cpu + db_cpu) / duration):,.0f} |")
        rows.append(row)
    log.close()
    replayed = (", some calls replayed: more --calls needed" if feeds.replayed
                else ", no call replayed")
    return "\n".join([
        f"### capacity on {name} (mix of whole calls, {per_call:.2f} webhooks per call, "
        f"32 connections, median of {rounds} runs of {duration} s{replayed})", "",
        "| servers | webhooks/s | calls/s | worst p99 ms | worker CPU (cores busy) "
        "| calls per CPU-second |" + (" database CPU (cores busy) | calls per database "
                                      "CPU-second | calls per CPU-second, both |"
                                      if server else ""),
        "| --- | ---: | ---: | ---: | ---: | ---: |" + (" ---: | ---: | ---: |" if server
                                                       else ""), *rows]) + "\n"


@contextmanager
def _maybe_second(servers: int, url: str, log: object) -> Iterator[int]:
    """A second server (another machine, simulated) on the same database, when asked for."""
    if servers < 2:
        yield 0
        return
    with _gunicorn("wsgi:app", SECOND_PORT, service_env(url, 1), log) as pid:
        yield pid


def _together(tmp: Path, targets: list[tuple[int, list[tuple[str, str, str]], int]],
              connections: int, duration: int, feeds: Feeds | None = None,
              ) -> tuple[float, float, float, float]:
    """wrk against every target at once (connections split): total req/s, worst p99, the
    workers' CPU seconds and this machine's PostgreSQL's. Each target's list goes on where
    its last run stopped (`feeds`)."""
    feeds = feeds or Feeds()
    share = connections // len(targets)
    before = sum(_cpu_seconds(master) for _, _, master in targets)
    db_before = database_cpu_seconds()
    started = [_start_wrk(tmp, f"mix-{port}", port, requests, share, duration,
                          feeds.start(str(port)))
               for port, requests, _ in targets]
    results = [_result("mix", share, p.communicate(timeout=duration + 60)[0]) for p in started]
    _clean(tmp)
    for (port, requests, _), result in zip(targets, results, strict=True):
        feeds.advance(str(port), result, len(requests), duration)
    cpu = sum(_cpu_seconds(master) for _, _, master in targets) - before
    db_cpu = database_cpu_seconds() - db_before
    return (sum(r.rps for r in results), max(r.p99_ms for r in results), cpu, db_cpu)


@contextmanager
def _maybe_baseline(baseline: Path | None, url: str, log: object,
                    port: int = BASELINE_PORT) -> Iterator[int]:
    """Another checkout of the service (its own code and gunicorn.conf.py), same database."""
    if baseline is None:
        yield 0
        return
    with _gunicorn("wsgi:app", port, service_env(url), log, chdir=baseline,
                   config=baseline / "gunicorn.conf.py") as pid:
        yield pid


@contextmanager
def _maybe_peer(peer: Path | None, log: object, port: int = PEER_PORT) -> Iterator[int]:
    """Twilio's sample served by the same gunicorn settings, when a checkout is given."""
    if peer is None:
        yield 0
        return
    env = {**os.environ, "WEB_CONCURRENCY": "2", "PYTHONPATH": str(peer)}
    with _gunicorn(PEER_APP, port, env, log, chdir=peer) as pid:
        yield pid


def peer_requests(n: int) -> list[tuple[str, str, str]]:
    """The sample's welcome webhook with Twilio's standard parameters (it checks no signature)."""
    return [("/ivr/welcome", "", urllib.parse.urlencode(
        {"CallSid": f"CA{i:032d}", "AccountSid": "AC" + "1" * 32, "From": CALLER,
         "To": "+576017442727"})) for i in range(n)]


def _paired(tmp: Path, scenario: str, port: int, requests: list[tuple[str, str, str]],
            floor_requests: list[tuple[str, str, str]], connections: int, duration: int,
            rounds: int, baseline: list[tuple[str, str, str]] | None = None,
            masters: dict[int, int] | None = None, ports: Ports | None = None,
            feeds: Feeds | None = None) -> tuple[Result, Result, Result | None]:
    """The floor and the service (and the baseline) in turn, `rounds` times: the medians.

    Taking turns cancels slow drifts of a shared machine (other processes, CPU boost)
    that would otherwise favour whichever ran at the better moment. The service and the
    baseline go on through the same calls (`feeds`): neither replays the other's.
    """
    floor, service, base = [], [], []
    pids = masters or {}
    ports = ports or Ports.from_base(SERVICE_PORT)
    feeds = feeds or Feeds()

    def run(name: str, key: str, at: int, listed: list[tuple[str, str, str]]) -> Result:
        """One wrk run of list `key`, from where its last run stopped."""
        result = _wrk(tmp, name, at, listed, connections, duration, pids.get(at),
                      feeds.start(key))
        feeds.advance(key, result, len(listed), duration)
        return result

    for _ in range(rounds):
        floor.append(run("floor", "floor", ports.floor, floor_requests))
        service.append(run(scenario, scenario, port, requests))
        if baseline:
            base.append(run("baseline " + scenario, scenario, ports.baseline, baseline))
    return _median(floor), _median(service), _median(base) if base else None


def _median(results: list[Result]) -> Result:
    """The run with the median throughput."""
    return sorted(results, key=lambda r: r.rps)[len(results) // 2]


def seed_cases(url: str, count: int, callbacks: int = CALLS) -> list[str]:
    """A fresh, migrated database holding `count` cases (and `callbacks` callback requests
    waiting for their severity); returns the cases' numbers."""
    engine = db.make_engine(db.database_url(url, tempfile.gettempdir()))
    db.drop_schema(engine)
    db.upgrade(engine)
    seed_callback_requests(engine, callbacks)
    numbers = sorted({check_digit.new_number(8) for _ in range(count * 2)})[:count]
    now = datetime.now(UTC)
    rows = [{"number": n, "line": "cco", "team": "centro_soporte", "level": 1,
             "status": "in_progress", "call_sid": f"CAseed{i}", "caller": CALLER,
             "created_at": now, "updated_at": now} for i, n in enumerate(numbers)]
    with engine.begin() as connection:
        connection.execute(sa.insert(Case), rows)
    engine.dispose()
    return numbers


def seed_callback_requests(engine: sa.Engine, count: int) -> None:
    """Callback requests whose number is given, waiting for their severity (the last answer)."""
    now = datetime.now(UTC)
    rows = [{"line": "cco", "node": "centro_soporte", "call_sid": f"CB{i:032d}",
             "number": CCO_CALLER, "status": "asking", "joined_at": now, "requested_at": now,
             "attempts": 0, "updated_at": now} for i in range(count)]
    with engine.begin() as connection:
        connection.execute(sa.insert(Callback), rows)


def build_scenarios(numbers: list[str], port: int, calls: int = CALLS,
                    first_call: int = 0) -> dict[str, list[tuple[str, str, str]]]:
    """Signed requests for each scenario, `calls` of each: (path, signature, form body).

    Every request is of a call of its own (its CallSid), and the scenarios that write take
    their calls from ranges of their own (`LOOK_UPS`, ...), as do the whole calls of the
    mix: each look-up's note, new case and first wait is written for real, never answered
    as a replay of a call already stored. `first_call` shifts them all (a second server's
    callers) but the callbacks', whose CallSids are the ones `seed_callback_requests` stored.
    """
    validator = RequestValidator(TOKEN)
    base = f"http://127.0.0.1:{port}"

    def signed(path: str, params: dict[str, str]) -> tuple[str, str, str]:
        """One request as Twilio would send it."""
        return path, validator.compute_signature(base + path, params), urllib.parse.urlencode(
            params)

    def call(i: int, **extra: str) -> dict[str, str]:
        """Twilio's standard parameters for call number `i`."""
        return {"CallSid": f"CA{first_call + i:032d}", "AccountSid": "AC" + "1" * 32,
                "From": CALLER, "To": "+576017442727", **extra}

    def incoming(i: int) -> tuple[str, str, str]:
        """The call comes in."""
        return signed("/voice", call(i))

    def key(i: int, digits: str) -> tuple[str, str, str]:
        """A key (or keys typed ahead) in the main menu."""
        return signed("/voice/certicamara/menu/principal?f=0", call(i, Digits=digits))

    def look_up(i: int) -> tuple[str, str, str]:
        """A case number typed."""
        return signed("/voice/cco/case/consulta_caso/entry?f=0",
                      call(i, Digits=numbers[i % len(numbers)], To="+582124713239"))

    def new_case(i: int) -> tuple[str, str, str]:
        """A new case asked for."""
        return signed("/voice/cco/menu/caso_opciones?f=0",
                      call(NEW_CASES + i, Digits="1", To="+582124713239"))

    def dial(i: int) -> tuple[str, str, str]:
        """A priority-1 incident: the on-call mobile dialled."""
        return signed("/voice/certicamara/menu/incidente_critico?f=0", call(i, Digits="1"))

    def whole_call(i: int) -> list[tuple[str, str, str]]:
        """A day's call: it comes in; most press keys; some look up or open a case."""
        out = [incoming(i), key(i, "2") if i % 3 else key(i, "25")]
        if i % 5 == 0:
            out.append(look_up(i))
        if i % 10 == 0:
            out.append(new_case(i))
        if i % 20 == 0:
            out.append(dial(i))
        return out

    n = range(calls)
    return {
        "incoming call": [incoming(i) for i in n],
        "menu key": [key(i, "2") for i in n],
        "type-ahead": [key(i, "25") for i in n],
        "case look-up (read)": [look_up(LOOK_UPS + i) for i in n],
        "new case (write)": [new_case(i) for i in n],
        "priority-1 dial": [dial(i) for i in n],
        # the wait told: place and minutes said, the first wait of each call noted (a write)
        "queue wait told": [
            signed("/voice/cco/wait/centro_soporte",
                   call(WAITS + i, To="+582124713239", From=CCO_CALLER, QueueTime="45",
                        QueuePosition=str(1 + i % 12), AvgQueueTime="240"))
            for i in n],
        # a callback's last answer: severity, due time in business hours, the list (a write)
        "callback severity (write)": [
            signed("/voice/cco/callback/centro_soporte/severity?f=0",
                   {**call(i, Digits="2", To="+582124713239", From=CCO_CALLER),
                    "CallSid": f"CB{i:032d}"})
            for i in n],
        "mix of whole calls": [r for i in n for r in whole_call(MIX + i)],
    }


def _wrk(tmp: Path, name: str, port: int, requests: list[tuple[str, str, str]],
         connections: int, duration: int, master: int | None = None, start: int = 0) -> Result:
    """One wrk run of `requests` at `connections`, from `start` on."""
    process = _start_wrk(tmp, name, port, requests, connections, duration, start)
    before = _cpu_seconds(master) if master else 0.0
    db_before = database_cpu_seconds()
    out, _ = process.communicate(timeout=duration + 60)
    _clean(tmp)
    cpu = _cpu_seconds(master) - before if master else 0.0
    db_cpu = database_cpu_seconds() - db_before
    if process.returncode:
        raise RuntimeError(f"wrk failed on {name}: exit {process.returncode}")
    return replace(_result(name, connections, out, cpu), db_cpu_s=db_cpu)


def _start_wrk(tmp: Path, name: str, port: int, requests: list[tuple[str, str, str]],
               connections: int, duration: int, start: int = 0) -> subprocess.Popen[str]:
    """Start wrk on `requests` from `start` on (a window of them, enough for the run)."""
    threads = 1 if connections == 1 else 2
    key = abs(hash((name, port, connections, start)))
    size = window(len(requests), duration)
    for thread in range(threads):  # each thread reads only its own lines before the run
        with (tmp / f"{key}-{thread}.tsv").open("w", encoding="utf-8") as out:
            for i in range(start + thread, start + size, threads):
                out.write("\t".join(requests[i % len(requests)]) + "\n")
    script = tmp / f"{key}.lua"
    script.write_text(_lua(tmp / f"{key}-", threads), encoding="utf-8")
    return subprocess.Popen(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
         "-s", str(script), f"http://127.0.0.1:{port}"], stdout=subprocess.PIPE, text=True)


def _clean(tmp: Path) -> None:
    """Remove the last run's request files (several MB each, beside the database)."""
    for leftover in [*tmp.glob("*.tsv"), *tmp.glob("*.lua")]:
        leftover.unlink()


def window(length: int, duration: int) -> int:
    """How many of a list's requests one run of `duration` seconds is given."""
    return min(length, WINDOW_PER_SECOND * duration)


def _result(name: str, connections: int, out: str, cpu: float = 0.0) -> Result:
    """wrk's JSON summary line as a Result."""
    data = json.loads(out.strip().splitlines()[-1])
    seconds = data["duration_us"] / 1e6
    return Result(name, connections, data["requests"] / seconds, data["p50"] / 1000,
                  data["p99"] / 1000, data["max"] / 1000, data["errors"] + data["non2xx"],
                  cpu, data["requests"], sent=data["sent"])


def _cpu_seconds(master: int) -> float:
    """User plus system CPU seconds spent so far by the master's worker processes."""
    total = 0
    for _, _, fields in _processes():
        if fields[1] == str(master):  # ppid
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def database_cpu_seconds() -> float:
    """CPU seconds spent so far by this machine's PostgreSQL, all its processes (0: none here).

    Each process named `postgres` (the server, its backends, the WAL writer...), and what its
    exited children spent (a backend that ended is counted in the server's own figures)."""
    total = 0
    for _, name, fields in _processes():
        if name == "postgres":  # utime, stime, and the reaped children's cutime, cstime
            total += sum(int(f) for f in fields[11:15])
    return total / os.sysconf("SC_CLK_TCK")


def _processes() -> Iterator[tuple[int, str, list[str]]]:
    """Each running process: its pid, its name, the fields of /proc/PID/stat after the name."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, tail = stat.read_text().rsplit(")", 1)
        except (OSError, ValueError):
            continue
        yield int(stat.parent.name), head.partition("(")[2], tail.split()


def _lua(data: Path, threads: int) -> str:
    """A wrk script that sends pre-signed requests in turn, threads interleaved, and reports
    JSON. Thread k reads `data` + "k.tsv" (one request per line: path, signature, body,
    tab-separated): lines k, k + threads, k + 2 × threads … of the window.

    Each thread formats its requests before the run starts (no formatting while it is
    timed). `sent` is how far into the window the busiest thread went: where the next run
    goes on."""
    return f"""
local threads, T = {{}}, {threads}
setup = function(thread) thread:set("tid", #threads); table.insert(threads, thread) end
init = function(args)
  reqs, c = {{}}, 0
  for line in io.lines({_lua_str(str(data))} .. tid .. ".tsv") do
    local p, s, b = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    local headers = {{["Content-Type"] = "application/x-www-form-urlencoded"}}
    if s ~= "" then headers["X-Twilio-Signature"] = s end
    reqs[#reqs + 1] = wrk.format("POST", p, headers, b)
  end
end
request = function()
  local r = reqs[(c % #reqs) + 1]
  c = c + 1
  return r
end
done = function(summary, latency, requests)
  local e, most = summary.errors, 0
  for _, thread in ipairs(threads) do most = math.max(most, thread:get("c")) end
  io.write(string.format(
    '{{"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, '
    .. '"p50": %d, "p99": %d, "max": %d, "sent": %d}}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max, most * T))
end
"""


def _lua_str(text: str) -> str:
    """A Lua string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@contextmanager
def _gunicorn(target: str, port: int, env: dict[str, str], log: object,
              chdir: Path = ROOT, config: Path = ROOT / "gunicorn.conf.py") -> Iterator[int]:
    """Run gunicorn (the project's config, access log off as shipped) on `port`; yields its pid."""
    command = [str(Path(sys.executable).with_name("gunicorn")), "-c", str(config),
               "--bind", f"127.0.0.1:{port}", target]
    process = subprocess.Popen(command, cwd=chdir, env=env, stdout=log, stderr=log)
    try:
        _wait_for(port)
        yield process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def _wait_for(port: int, seconds: float = 30) -> None:
    """Wait until something listens on `port`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {seconds} s")


def _post(port: int, path: str, params: dict[str, str]) -> bytes:
    """A signed request, for sizing the floor's document."""
    url = f"http://127.0.0.1:{port}{path}"
    signature = RequestValidator(TOKEN).compute_signature(url, params)
    request = urllib.request.Request(url, data=urllib.parse.urlencode(params).encode(),
                                     headers={"X-Twilio-Signature": signature})
    with urllib.request.urlopen(request, timeout=10) as response:
        body: bytes = response.read()
    return body


def _peak_memory(master: int) -> float:
    """The largest peak resident memory (MiB) of the master's worker processes."""
    return max((_status_kib(pid, "VmHWM") / 1024 for pid in _workers(master)), default=0.0)


def _private_memory(master: int) -> float:
    """The largest private memory (MiB) of a worker: what it holds that no process shares."""
    private = []
    for pid in _workers(master):
        try:
            rows = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        private.append(sum(int(row.split()[1]) for row in rows
                           if row.startswith(("Private_Clean", "Private_Dirty"))) / 1024)
    return max(private, default=0.0)


def _workers(master: int) -> list[int]:
    """The pids of the master's worker processes."""
    return [pid for pid, _, fields in _processes() if fields[1] == str(master)]


def _status_kib(pid: int, field: str) -> int:
    """A kB field of /proc/<pid>/status (0 when the process is gone)."""
    try:
        for row in Path(f"/proc/{pid}/status").read_text().splitlines():
            if row.startswith(field + ":"):
                return int(row.split()[1])
    except OSError:
        pass
    return 0


def _cpu_us(result: Result) -> float:
    """The workers' CPU time per request (µs): user and system, whatever else ran."""
    return result.cpu_s * 1e6 / result.requests if result.requests else 0.0


def _db_cpu_us(result: Result) -> float:
    """This machine's PostgreSQL's CPU time per request (µs), over the same run."""
    return result.db_cpu_s * 1e6 / result.requests if result.requests else 0.0


def _table(name: str, size: int,
           rows: list[tuple[str, dict[int, tuple[Result, Result, Result | None]]]],
           memory: dict[str, float], connections: list[int],
           replayed: set[str] | None = None) -> str:
    """The Markdown table of one backend's run.

    On PostgreSQL, also the database's own CPU per request (it shares this machine's cores
    with the workers and wrk) and the workers' and the database's CPU together against the
    floor's (on SQLite the database is inside the workers' figures)."""
    peer = (f", Twilio's sample {memory['peer']:.0f} MiB ({memory['peer private']:.0f})"
            if "peer" in memory else "")
    base = (f", baseline {memory['baseline']:.0f} MiB ({memory['baseline private']:.0f})"
            if "baseline" in memory else "")
    server = name == "postgresql"
    db_columns = " database CPU µs/req | all CPU × floor |" if server else ""
    extra = (" baseline req/s | baseline × floor | baseline p99 ms | baseline CPU µs/req | "
             "baseline CPU × floor |" if base else "")
    out = [f"### {name} (welcome menu document: {size} bytes; peak resident memory per worker, "
           f"in brackets what is private to it, not shared with the master: service "
           f"{memory['service']:.0f} MiB ({memory['service private']:.0f}), floor "
           f"{memory['floor']:.0f} MiB ({memory['floor private']:.0f}){peer}{base})", "",
           "| scenario | conns | req/s | floor req/s | × floor | p50 ms | p99 ms | max ms "
           f"| floor p99 ms | errors | CPU µs/req | floor CPU µs/req | CPU × floor |{db_columns}"
           f"{extra}",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
           "| ---: |" + " ---: |" * (db_columns + extra).count("|")]
    written = sorted((replayed or set()) - STATELESS)
    if written:  # a write replayed is not a write
        out[1:1] = ["", "Lists used up, so some of their calls replayed (more --calls "
                    f"needed): {', '.join(written)}", ""]
    for scenario, cells in rows:
        for c in connections:
            floor, r, before = cells[c]
            ratio = r.rps / floor.rps if floor.rps else 0
            row = (f"| {scenario} | {c} | {r.rps:,.0f} | {floor.rps:,.0f} | {ratio:.2f} | "
                   f"{r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.max_ms:.1f} | "
                   f"{floor.p99_ms:.2f} | {r.errors + floor.errors} | {_cpu_us(r):.0f} | "
                   f"{_cpu_us(floor):.0f} | {_cpu_us(floor) / (_cpu_us(r) or 1):.2f} |")
            if server:
                both = _cpu_us(r) + _db_cpu_us(r)
                row += (f" {_db_cpu_us(r):.0f} | "
                        f"{(_cpu_us(floor) + _db_cpu_us(floor)) / (both or 1):.2f} |")
            if extra:
                row += (f" {before.rps:,.0f} | {before.rps / floor.rps:.2f} | "
                        f"{before.p99_ms:.2f} | {_cpu_us(before):.0f} | "
                        f"{_cpu_us(floor) / (_cpu_us(before) or 1):.2f} |"
                        if before and floor.rps else " | | | | |")
            out.append(row)
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
