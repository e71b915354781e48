"""The dashboard's raw figures: each webhook notes what happened, written in batches.

Each webhook notes (call, line, node, outcome, time) in a per-worker buffer that is written to
the database in one INSERT at most every second.

What can be lost: a worker killed with SIGKILL (or the machine losing power) loses the events of
its last second at most; a normal stop (SIGTERM, gunicorn's restarts) flushes them first. A
database error drops that batch (logged) rather than keep growing in memory. With
IVR_EVENT_FLUSH_SECONDS=0 every event is written at once (tests).
"""

from __future__ import annotations

import atexit
import logging
import threading
from datetime import datetime
from typing import Any

from flask import Flask, current_app
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ivr.store import call_events

log = logging.getLogger("ivr.events")
MAX_BUFFER = 5000  # past this a batch is written at once, whatever the time


class EventBuffer:
    """One worker's events waiting to be written, and the thread that writes them."""

    def __init__(self, engine: Engine, every: float) -> None:
        """An empty buffer, written out every `every` seconds."""
        self.engine, self.every = engine, every
        self.rows: list[tuple[Any, ...]] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def add(self, row: tuple[Any, ...]) -> None:
        """Keep one event; write at once when not batching or when the buffer is full."""
        with self.lock:
            self.rows.append(row)
            full = len(self.rows) >= MAX_BUFFER
        if self.every <= 0 or full:
            self.flush()
        elif self.thread is None:
            self._start()

    def _start(self) -> None:
        """Start the writer thread in this process (after gunicorn's fork, on first use)."""
        with self.lock:
            if self.thread is not None:
                return
            self.thread = threading.Thread(target=self._run, name="call-events", daemon=True)
            self.thread.start()
        atexit.register(self.close)

    def _run(self) -> None:
        """Write the buffer every `every` seconds until stopped."""
        while not self.stop.wait(self.every):
            self.flush()

    def flush(self) -> None:
        """Write what is buffered, in one INSERT."""
        with self.lock:
            rows, self.rows = self.rows, []
        if not rows:
            return
        try:
            call_events.write(self.engine, rows)
        except SQLAlchemyError as e:
            log.error("%d call events not written: %s", len(rows), type(e).__name__)

    def close(self) -> None:
        """Stop the thread and write what is left (at exit)."""
        self.stop.set()
        self.flush()


def init_app(app: Flask) -> None:
    """Give the app its buffer of call events."""
    every = float(app.config.get("IVR_EVENT_FLUSH_SECONDS", 1.0))
    app.extensions["ivr.call_events"] = EventBuffer(app.extensions["ivr.engine"], every)


def note(call_sid: str | None, line: str | None, node: str | None, outcome: str,
         at: datetime) -> None:
    """Note one webhook's outcome for the dashboard (no phone numbers, no case numbers)."""
    note_in(current_app, call_sid, line, node, outcome, at)


def note_in(app: Flask, call_sid: str | None, line: str | None, node: str | None,
            outcome: str, at: datetime) -> None:
    """`note`, for a caller that already holds the app (no context-local look-up)."""
    buffer: EventBuffer = app.extensions["ivr.call_events"]
    buffer.add(call_events.event(at, call_sid, line, node, outcome))


def flush(app: Flask) -> None:
    """Write the app's buffered events now (tests, and the dashboard's own worker)."""
    buffer: EventBuffer = app.extensions["ivr.call_events"]
    buffer.flush()
