"""What webhooks note in passing, written in batches: the figures, the look-ups of cases.

Each webhook notes (call, line, node, outcome, time) in a per-worker buffer that is written to
the database in one INSERT at most every second; each case looked up notes the call on the case
(`case_calls`: who, when, through which node) in another, written the same way.

What can be lost: a worker killed with SIGKILL (or the machine losing power) loses the events and
look-up notes of its last second at most; a normal stop (SIGTERM, gunicorn's restarts) flushes
them first. A database error drops that batch (logged: the look-up notes' CallSids in an ERROR
line) rather than keep growing in memory. Neither is ever a case: a case told to a caller is
committed before the caller hears its number. With IVR_EVENT_FLUSH_SECONDS=0 every event and
note is written at once (tests).
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

from ivr.store import call_events, cases

log = logging.getLogger("ivr.events")
MAX_BUFFER = 5000  # past this a batch is written at once, whatever the time
MAX_NAMED = 50  # CallSids named in the line that says a batch of notes was lost


class EventBuffer:
    """One worker's events waiting to be written, and the thread that writes them."""

    name = "call-events"  # its thread's

    def __init__(self, engine: Engine, every: float) -> None:
        """An empty buffer, written out every `every` seconds."""
        self.engine, self.every = engine, every
        self.rows: list[Any] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def add(self, row: Any) -> None:
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
            self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
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
            self.write(rows)
        except SQLAlchemyError as e:
            self.failed(rows, e)

    def write(self, rows: list[Any]) -> None:
        """Write one batch (it raises SQLAlchemy's errors)."""
        call_events.write(self.engine, rows)

    def failed(self, rows: list[Any], error: SQLAlchemyError) -> None:
        """Say that a batch was not written."""
        log.error("%d call events not written: %s", len(rows), type(error).__name__)

    def close(self) -> None:
        """Stop the thread and write what is left (at exit)."""
        self.stop.set()
        self.flush()


class NoteBuffer(EventBuffer):
    """One worker's notes of cases looked up (`cases.note_values`), waiting to be written."""

    name = "look-up-notes"

    def write(self, rows: list[Any]) -> None:
        """Write one batch of notes, each once."""
        cases.write_notes(self.engine, rows)

    def failed(self, rows: list[Any], error: SQLAlchemyError) -> None:
        """Name the calls whose look-up notes were lost (CallSids only: no numbers)."""
        calls = ", ".join(str(row["call_sid"]) for row in rows[:MAX_NAMED])
        more = f" and {len(rows) - MAX_NAMED} more" if len(rows) > MAX_NAMED else ""
        log.error("NOT STORED: %d look-up notes, of calls %s%s: %s", len(rows), calls, more,
                  type(error).__name__)


def init_app(app: Flask) -> None:
    """Give the app its buffers: call events, look-up notes."""
    every = float(app.config.get("IVR_EVENT_FLUSH_SECONDS", 1.0))
    app.extensions["ivr.call_events"] = EventBuffer(app.extensions["ivr.engine"], every)
    app.extensions["ivr.look_up_notes"] = NoteBuffer(app.extensions["ivr.engine"], every)


def note(call_sid: str | None, line: str | None, node: str | None, outcome: str,
         at: datetime) -> None:
    """Note one webhook's outcome for the dashboard (no phone numbers, no case numbers)."""
    note_in(current_app, call_sid, line, node, outcome, at)


def note_in(app: Flask, call_sid: str | None, line: str | None, node: str | None,
            outcome: str, at: datetime) -> None:
    """`note`, for a caller that already holds the app (no context-local look-up)."""
    buffer: EventBuffer = app.extensions["ivr.call_events"]
    buffer.add(call_events.event(at, call_sid, line, node, outcome))


def note_look_up(app: Flask, note: dict[str, Any]) -> None:
    """Note a look-up on its case (`cases.note_values`), written with the next batch."""
    buffer: NoteBuffer = app.extensions["ivr.look_up_notes"]
    buffer.add(note)


def flush(app: Flask) -> None:
    """Write the app's buffered events and notes now (tests, and the dashboard's own worker)."""
    for name in ("ivr.call_events", "ivr.look_up_notes"):
        buffer: EventBuffer = app.extensions[name]
        buffer.flush()
