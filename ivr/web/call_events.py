"""What webhooks note in passing, written in batches: the figures, the look-ups of cases.

Each webhook notes (call, line, node, outcome, time) in a per-worker buffer that is written to
the database in one INSERT at most every second; each case looked up notes the call on the case
(`case_calls`: who, when, through which node) in another, written the same way.

What can be lost: a worker killed with SIGKILL (or the machine losing power) loses the events and
look-up notes of its last second at most; a normal stop (SIGTERM, gunicorn's restarts) flushes
them first. A database error drops that batch (logged: the look-up notes' CallSids in an ERROR
line) rather than keep growing in memory. Neither is ever a case: a case told to a caller is
committed before the caller hears its number. The notes are written within a second whatever
IVR_EVENT_FLUSH_SECONDS says (IVR_NOTE_FLUSH_SECONDS, from it, 1 s at most: what reads them, a
queued call's callback and the analyst's desk, comes seconds after the look-up); with 0 every
event and note is written at once (tests).
A full buffer wakes its writer: a webhook never writes a batch itself, and when the writer is
stuck (a database that hangs) the buffer stops growing at MAX_HELD; what it then refuses is
logged once when it starts and counted in one line at the writer's next pass.
"""

from __future__ import annotations

import atexit
import logging
import threading
from datetime import datetime
from typing import Any

from flask import Flask, current_app
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from ivr.store import call_events, cases

log = logging.getLogger("ivr.events")
MAX_BUFFER = 5000  # past this the writer is woken to write the batch at once
MAX_HELD = 4 * MAX_BUFFER  # past this (the writer stuck) what comes is refused, and logged
JOIN_SECONDS = 2.0  # how long a normal stop waits for a batch being written (gunicorn's
# graceful_timeout, 10 s, must hold the requests' drain and this)
MAX_NAMED = 50  # CallSids named in the line that says a batch of notes was lost


class EventBuffer:
    """One worker's events waiting to be written, and the thread that writes them."""

    name = "call-events"  # its thread's

    def __init__(self, engine: Engine, every: float) -> None:
        """An empty buffer, written out every `every` seconds."""
        self.engine, self.every = engine, every
        self.rows: list[Any] = []
        self.lock = threading.Lock()
        self.stop, self.wake = threading.Event(), threading.Event()
        self.thread: threading.Thread | None = None
        self.refused: list[Any] = []  # the first MAX_NAMED of what a full buffer refused
        self.refused_count = 0

    def add(self, row: Any) -> None:
        """Keep one event; write at once when not batching, wake the writer when full."""
        with self.lock:
            held = len(self.rows)
            first_refused = False
            if held < MAX_HELD:
                self.rows.append(row)
            else:
                first_refused = self.refused_count == 0
                self.refused_count += 1
                if len(self.refused) < MAX_NAMED:
                    self.refused.append(row)
        if self.every <= 0 or self.stop.is_set():  # not batching, or stopped: write it now
            self.flush()
            return
        if self.thread is None or not self.thread.is_alive():
            self._start()
        if held + 1 >= MAX_BUFFER:
            self.wake.set()
        if first_refused:
            self.failed([row], "buffer full")

    def _start(self) -> None:
        """Start the writer thread in this process, if none runs here.

        On first use, and in a forked worker, whose copy of a writer started before the fork
        does not run.
        """
        with self.lock:
            if self.thread is not None and self.thread.is_alive():
                return
            if self.thread is None:
                atexit.register(self.close)
            self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self.thread.start()

    def _run(self) -> None:
        """Write the buffer every `every` seconds (or when woken) until stopped."""
        while not self.stop.is_set():
            self.wake.wait(self.every)
            self.wake.clear()
            self.flush()

    def flush(self) -> None:
        """Write what is buffered, in one INSERT; a batch that fails is dropped, and logged."""
        with self.lock:
            rows, self.rows = self.rows, []
            refused, count = self.refused, self.refused_count
            self.refused, self.refused_count = [], 0
        if count > 1:  # the first was logged when it came
            self.failed(refused[1:], "buffer full", count - 1)
        if not rows:
            return
        try:
            self.write(rows)
        except Exception as e:  # noqa: BLE001 - whatever it was, the writer goes on
            self.failed(rows, type(e).__name__)

    def write(self, rows: list[Any]) -> None:
        """Write one batch (it raises SQLAlchemy's errors)."""
        call_events.write(self.engine, rows)

    def failed(self, rows: list[Any], why: str, count: int | None = None) -> None:
        """Say that `count` rows (`rows`, or their first) were not written, and why.

        `why` is the error's type, or "buffer full": never a value.
        """
        log.error("%d call events not written: %s", len(rows) if count is None else count, why)

    def close(self) -> None:
        """Stop the thread, let it finish a batch it is writing, and write what is left."""
        self.stop.set()
        self.wake.set()
        thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(JOIN_SECONDS)
        self.flush()


class NoteBuffer(EventBuffer):
    """One worker's notes of cases looked up (`cases.note_values`), waiting to be written."""

    name = "look-up-notes"

    def write(self, rows: list[Any]) -> None:
        """Write one batch of notes, each once; if the batch is refused, each note alone."""
        try:
            cases.write_notes(self.engine, rows)
        except IntegrityError:
            # a case deleted after the batch looked for it: only its notes are lost
            lost: dict[str, list[Any]] = {}
            for row in rows:
                try:
                    cases.write_notes(self.engine, [row])
                except Exception as e:  # noqa: BLE001 - this note is lost, the others go on
                    lost.setdefault(type(e).__name__, []).append(row)
            for why, notes in lost.items():
                self.failed(notes, why)

    def failed(self, rows: list[Any], why: str, count: int | None = None) -> None:
        """Name the calls whose look-up notes were lost (CallSids only: no numbers)."""
        count = len(rows) if count is None else count
        named = rows[:MAX_NAMED]
        calls = ", ".join(str(row["call_sid"]) for row in named)
        more = f" and {count - len(named)} more" if count > len(named) else ""
        log.error("NOT STORED: %d look-up notes, of calls %s%s: %s", count, calls, more, why)


def init_app(app: Flask) -> None:
    """Give the app its buffers: call events, look-up notes."""
    every = float(app.config.get("IVR_EVENT_FLUSH_SECONDS", 1.0))
    app.extensions["ivr.call_events"] = EventBuffer(app.extensions["ivr.engine"], every)
    notes_every = float(app.config.get("IVR_NOTE_FLUSH_SECONDS", 1.0))  # config.py caps it
    app.extensions["ivr.look_up_notes"] = NoteBuffer(app.extensions["ivr.engine"], notes_every)


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
