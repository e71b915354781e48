"""The side-by-side benchmark: the service as deployed against a constant-TwiML floor.

    .venv/bin/python -m bench.run [--duration 8] [--connections 1,8,32] [--postgres URL]

Starts gunicorn with the project's gunicorn.conf.py (2 workers) twice: once serving the
shipped menus on a fresh SQLite database (and once more on PostgreSQL when a URL is given),
once serving `bench.floor` (a constant document of the same size, no signature check). wrk,
a separate process, sends real signed Twilio requests, scenario by scenario; every figure is
reported next to the floor measured in the same run. Needs wrk (Debian package `wrk`).
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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from ivr import db
from ivr.core import check_digit
from ivr.store.tables import Callback, Case

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"
SERVICE_PORT, FLOOR_PORT = 18_001, 18_002
SEEDED_CASES = 1_000
SIGNED_PER_SCENARIO = 4_000
CALLER = "+573001234567"
CCO_CALLER = "+584141112233"


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


def main(argv: list[str] | None = None) -> int:
    """Run every scenario at every concurrency, against the service and the floor."""
    options = _arguments(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    connections = [int(c) for c in options.connections.split(",")]
    with tempfile.TemporaryDirectory(prefix="ivr-bench-") as tmp:
        backends = {"sqlite": f"sqlite:///{tmp}/bench.sqlite3"}
        if options.postgres:
            backends["postgresql"] = options.postgres
        report = [_header(options)]
        for name, url in backends.items():
            report.append(_run_backend(name, url, Path(tmp), connections, options.duration,
                                       options.rounds, options.only, options.port_base))
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
    parser.add_argument("--postgres", help="also run on this PostgreSQL URL (its tables are "
                                           "dropped and recreated)")
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


def _run_backend(name: str, url: str, tmp: Path, connections: list[int], duration: int,
                 rounds: int, only: list[str] | None = None,
                 port: int = SERVICE_PORT) -> str:
    """All scenarios (or `only` these) on one database, with the floor measured alongside."""
    numbers = seed_cases(url, SEEDED_CASES)
    env = {**os.environ, "TWILIO_AUTH_TOKEN": TOKEN, "DATABASE_URL": url,
           "WEB_CONCURRENCY": "2", "LOG_LEVEL": "INFO"}
    log = open(tmp / f"service-{name}.log", "w")  # noqa: SIM115 - closed below
    with _gunicorn("wsgi:app", port, env, log) as service:
        size = len(_post(port, "/voice", {"To": "+576017442727", "CallSid": "CAsize"}))
        floor_env = {**os.environ, "FLOOR_BYTES": str(size), "WEB_CONCURRENCY": "2"}
        with _gunicorn("bench.floor:app", port + 1, floor_env, log) as floor:
            scenarios = build_scenarios(numbers, port)
            rows = []
            for scenario, requests in scenarios.items():
                if only and scenario not in only:
                    continue
                cells = {}
                for c in connections:
                    cells[c] = _paired(tmp, scenario, requests, scenarios["incoming call"], c,
                                       duration, rounds, port)
                rows.append((scenario, cells))
            memory = {"service": _peak_memory(service), "floor": _peak_memory(floor)}
    log.close()
    return _table(name, size, rows, memory, connections)


def _paired(tmp: Path, scenario: str, requests: list[tuple[str, str, str]],
            floor_requests: list[tuple[str, str, str]], connections: int, duration: int,
            rounds: int, port: int = SERVICE_PORT) -> tuple[Result, Result]:
    """The floor and the service in turn, `rounds` times: the median of each.

    Taking turns cancels slow drifts of a shared machine (other processes, CPU boost)
    that would otherwise favour whichever ran at the better moment.
    """
    floor, service = [], []
    for _ in range(rounds):
        floor.append(_wrk(tmp, "floor", port + 1, floor_requests, connections, duration))
        service.append(_wrk(tmp, scenario, port, requests, connections, duration))
    return _median(floor), _median(service)


def _median(results: list[Result]) -> Result:
    """The run with the median throughput."""
    return sorted(results, key=lambda r: r.rps)[len(results) // 2]


def seed_cases(url: str, count: int) -> list[str]:
    """A fresh, migrated database holding `count` cases; returns their numbers."""
    engine = db.make_engine(db.database_url(url, tempfile.gettempdir()))
    db.drop_schema(engine)
    db.upgrade(engine)
    seed_callback_requests(engine, SIGNED_PER_SCENARIO)
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


def build_scenarios(numbers: list[str], port: int) -> dict[str, list[tuple[str, str, str]]]:
    """Signed requests for each scenario: (path, signature, form body)."""
    validator = RequestValidator(TOKEN)
    base = f"http://127.0.0.1:{port}"

    def signed(path: str, params: dict[str, str]) -> tuple[str, str, str]:
        """One request as Twilio would send it."""
        return path, validator.compute_signature(base + path, params), urllib.parse.urlencode(
            params)

    def call(i: int, **extra: str) -> dict[str, str]:
        """Twilio's standard parameters for call number `i`."""
        return {"CallSid": f"CA{i:032d}", "AccountSid": "AC" + "1" * 32, "From": CALLER,
                "To": "+576017442727", **extra}

    n = SIGNED_PER_SCENARIO
    scenarios = {
        "incoming call": [signed("/voice", call(i)) for i in range(n)],
        "menu key": [signed("/voice/certicamara/menu/principal?f=0", call(i, Digits="2"))
                     for i in range(n)],
        "type-ahead": [signed("/voice/certicamara/menu/principal?f=0", call(i, Digits="25"))
                       for i in range(n)],
        "case look-up (read)": [
            signed("/voice/cco/case/consulta_caso/entry?f=0",
                   call(i, Digits=numbers[i % len(numbers)], To="+582124713239"))
            for i in range(n)],
        "new case (write)": [
            signed("/voice/cco/menu/caso_opciones?f=0",
                   call(10**9 + i, Digits="1", To="+582124713239")) for i in range(n * 8)],
        "priority-1 dial": [signed("/voice/certicamara/menu/incidente_critico?f=0",
                                   call(i, Digits="1")) for i in range(n)],
        # the wait told: place and minutes said, the first wait of each call noted (a write)
        "queue wait told": [
            signed("/voice/cco/wait/centro_soporte",
                   call(i, To="+582124713239", From=CCO_CALLER, QueueTime="45",
                        QueuePosition=str(1 + i % 12), AvgQueueTime="240"))
            for i in range(n)],
        # a callback's last answer: severity, due time in business hours, the list (a write)
        "callback severity (write)": [
            signed("/voice/cco/callback/centro_soporte/severity?f=0",
                   {**call(i, Digits="2", To="+582124713239", From=CCO_CALLER),
                    "CallSid": f"CB{i:032d}"})
            for i in range(n)],
    }
    scenarios["mix of whole calls"] = _mix(scenarios, n)
    return scenarios


def _mix(scenarios: dict[str, list[tuple[str, str, str]]], n: int) -> list[tuple[str, str, str]]:
    """A day's calls: every call comes in; most press keys; some look up or open a case."""
    out = []
    for i in range(n):
        out.append(scenarios["incoming call"][i])
        out.append(scenarios["menu key"][i] if i % 3 else scenarios["type-ahead"][i])
        if i % 5 == 0:
            out.append(scenarios["case look-up (read)"][i])
        if i % 10 == 0:
            out.append(scenarios["new case (write)"][n * 4 + i])
        if i % 20 == 0:
            out.append(scenarios["priority-1 dial"][i])
    return out


def _wrk(tmp: Path, name: str, port: int, requests: list[tuple[str, str, str]],
         connections: int, duration: int) -> Result:
    """One wrk run of `requests` (cycled) at `connections`."""
    script = tmp / f"{abs(hash((name, connections)))}.lua"
    script.write_text(_lua(requests), encoding="utf-8")
    threads = 1 if connections == 1 else 2
    completed = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
         "-s", str(script), f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True, timeout=duration + 60,
    )
    data = json.loads(completed.stdout.strip().splitlines()[-1])
    seconds = data["duration_us"] / 1e6
    return Result(name, connections, data["requests"] / seconds, data["p50"] / 1000,
                  data["p99"] / 1000, data["max"] / 1000, data["errors"] + data["non2xx"])


def _lua(requests: list[tuple[str, str, str]]) -> str:
    """A wrk script that sends the pre-signed requests in turn and reports JSON."""
    rows = ",\n".join(f"{{{_lua_str(p)}, {_lua_str(s)}, {_lua_str(b)}}}"
                      for p, s, b in requests)
    return f"""
local requests = {{
{rows}
}}
local threads = 0
setup = function(thread) thread:set("tid", threads); threads = threads + 1 end
local i = 0
init = function(args) i = (tid or 0) * math.floor(#requests / 2) end
request = function()
  i = i + 1
  local r = requests[(i % #requests) + 1]
  return wrk.format("POST", r[1], {{["Content-Type"] = "application/x-www-form-urlencoded",
                                    ["X-Twilio-Signature"] = r[2]}}, r[3])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{{"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, '
    .. '"p50": %d, "p99": %d, "max": %d}}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def _lua_str(text: str) -> str:
    """A Lua string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@contextmanager
def _gunicorn(target: str, port: int, env: dict[str, str], log: object) -> Iterator[int]:
    """Run gunicorn (the project's config) on `port` until the block ends; yields its pid."""
    command = [str(Path(sys.executable).with_name("gunicorn")), "-c", "gunicorn.conf.py",
               "--bind", f"127.0.0.1:{port}", "--access-logfile", "/dev/null", target]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
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
    peaks = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(row.split(":", 1) for row in status.read_text().splitlines()
                          if ":" in row)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(master):
            peaks.append(int(fields["VmHWM"].split()[0]) / 1024)
    return max(peaks, default=0.0)


def _table(name: str, size: int, rows: list[tuple[str, dict[int, tuple[Result, Result]]]],
           memory: dict[str, float], connections: list[int]) -> str:
    """The Markdown table of one backend's run."""
    out = [f"### {name} (welcome menu document: {size} bytes; peak memory per worker: "
           f"service {memory['service']:.0f} MiB, floor {memory['floor']:.0f} MiB)", "",
           "| scenario | conns | req/s | floor req/s | × floor | p50 ms | p99 ms | max ms "
           "| floor p99 ms | errors |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for scenario, cells in rows:
        for c in connections:
            floor, r = cells[c]
            ratio = r.rps / floor.rps if floor.rps else 0
            out.append(f"| {scenario} | {c} | {r.rps:,.0f} | {floor.rps:,.0f} | {ratio:.2f} | "
                       f"{r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.max_ms:.1f} | "
                       f"{floor.p99_ms:.2f} | {r.errors + floor.errors} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
