"""Scale: load time and memory of big generated menus; case look-up with many cases stored.

    .venv/bin/python -m bench.scale [--cases 1000,1000000] [--nodes 10,1000,10000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ivr import db
from ivr.core import check_digit
from ivr.core.loader import load_directory
from ivr.store import cases
from ivr.store.tables import Case

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = ROOT / "voice_prompts"
MENUS = ROOT / "ivr" / "menus"
LOOKUPS = 3_000


def generated_menu(nodes: int) -> str:
    """A valid line of about `nodes` nodes: menus of 9 options down to queues, every 10th closed."""
    out = [
        "id: grande", "name: Línea generada", 'numbers: ["+57 601 744 2799"]', "country: CO",
        "timezone: America/Bogota", "start: m0", "fallback: fin",
        "schedules:", "  semana:", "    weekly:", '      mon-fri: "07:00-19:00"',
        '      sat: "08:00-13:00"', "nodes:",
        "  fin:", "    type: hangup", "    prompt: despedida",
    ]
    menus = max(1, (nodes - 2) // 9)  # 9 options each: the menus below, then queues
    leaves = 0
    for m in range(menus):
        out += [f"  m{m}:", "    type: menu", "    prompt: certicamara_principal", "    options:"]
        children = [c for c in range(m * 9 + 1, m * 9 + 10) if c < menus]
        for key, child in enumerate(children, start=1):
            out.append(f"      {key}: m{child}")
        for key in range(len(children) + 1, 10):
            out.append(f"      {key}: q{leaves}")
            leaves += 1
        if m % 10 == 0:
            out += ["    hours: semana", "    after_hours: fin"]
    for q in range(leaves):
        out += [f"  q{q}:", "    type: queue", f"    queue: cola-{q}"]
    return "\n".join(out) + "\n"


def menu_scale(sizes: list[int]) -> list[str]:
    """Load time and memory of generated menus."""
    rows = ["| nodes | file | load time (best of 3) | memory held by the loaded line |",
            "| ---: | ---: | ---: | ---: |"]
    load_directory(MENUS, PROMPTS)  # imports and holiday calendars warm, as in a running app
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp, "grande.yaml")
            path.write_text(generated_menu(size), encoding="utf-8")
            seconds = []
            for _ in range(3):
                start = time.perf_counter()
                directory = load_directory(Path(tmp), PROMPTS)
                seconds.append(time.perf_counter() - start)
            del directory
            gc.collect()
            tracemalloc.start()  # a second, traced load, for the memory only
            directory = load_directory(Path(tmp), PROMPTS)
            held = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
            count = len(directory.lines["grande"].spec.nodes)
            size_kib = path.stat().st_size / 1024
        rows.append(f"| {count:,} | {size_kib:,.0f} KiB | {min(seconds):.2f} s | "
                    f"{held / 2**20:.1f} MiB |")
    return rows


def lookup_scale(url: str, counts: list[int]) -> list[str]:
    """Look-up latency (the store's query, as the webhook runs it) with many cases stored."""
    rows = ["| cases stored | look-ups | p50 | p99 | mean |",
            "| ---: | ---: | ---: | ---: | ---: |"]
    engine = db.make_engine(url)
    db.drop_schema(engine)
    db.upgrade(engine)
    stored: list[str] = []
    for count in counts:
        stored += _insert(engine, count - len(stored), set(stored))
        sample = random.Random(count).sample(stored, min(LOOKUPS, len(stored)))
        with Session(engine) as session:
            for number in sample[:200]:  # warm the cache and the pool
                cases.summary(session, number)
            timings = []
            for number in sample:
                start = time.perf_counter()
                cases.summary(session, number)
                timings.append(time.perf_counter() - start)
        timings.sort()
        rows.append(f"| {count:,} | {len(timings):,} | {_ms(timings[len(timings) // 2])} | "
                    f"{_ms(timings[int(len(timings) * 0.99)])} | "
                    f"{_ms(statistics.fmean(timings))} |")
    engine.dispose()
    return rows


def _insert(engine: sa.Engine, count: int, taken: set[str]) -> list[str]:
    """Insert `count` more cases with distinct valid numbers; return their numbers."""
    numbers: set[str] = set()
    offset = len(taken)
    rng = random.Random(offset)
    while len(numbers) < count:
        body = str(rng.randrange(10**6, 10**7))
        number = body + check_digit.damm_digit(body)
        if number not in taken:
            numbers.add(number)
    now = datetime.now(UTC)
    ordered = sorted(numbers)
    with engine.begin() as connection:
        for start in range(0, len(ordered), 50_000):
            chunk = ordered[start:start + 50_000]
            connection.execute(sa.insert(Case), [
                {"number": n, "line": "cco", "team": "centro_soporte", "level": 1,
                 "status": "open", "call_sid": f"CAscale{offset + start + i}", "caller": None,
                 "created_at": now, "updated_at": now} for i, n in enumerate(chunk)])
    return ordered


def _ms(seconds: float) -> str:
    """Milliseconds, for the table."""
    return f"{seconds * 1000:.3f} ms"


def main(argv: list[str] | None = None) -> int:
    """Print both tables as Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="10,1000,10000")
    parser.add_argument("--cases", default="1000,1000000")
    parser.add_argument("--postgres", help="measure look-ups on this PostgreSQL too")
    options = parser.parse_args(argv)
    print("Menus:\n")
    print("\n".join(menu_scale([int(n) for n in options.nodes.split(",")])))
    counts = [int(n) for n in options.cases.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        print("\nCase look-up, SQLite:\n")
        print("\n".join(lookup_scale(f"sqlite:///{tmp}/scale.sqlite3", counts)))
    if options.postgres:
        print("\nCase look-up, PostgreSQL:\n")
        print("\n".join(lookup_scale(db.database_url(options.postgres, "/tmp"), counts)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
