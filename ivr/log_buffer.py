"""The service's log lines, written in batches: one write per second, not one per webhook.

Each record is formatted when it is logged (its time is the time it happened) and kept in
memory; the batch is written to the stream in one `write` and one `flush`:
- at most IVR_LOG_FLUSH_SECONDS (1 s) after the oldest line of the batch: a writer thread in
  each process looks every that many seconds, and a line logged after the deadline writes the
  batch itself;
- at once for a WARNING or worse (the batch before it first, so the order stays);
- when the batch holds MAX_LINES lines;
- at a normal stop: gunicorn's `worker_exit` hook (gunicorn.conf.py) and `logging.shutdown`
  at interpreter exit flush every handler.

What can be lost: a worker killed with SIGKILL (or the OOM killer, or a power cut) loses the
INFO lines it logged in its last second at most (MAX_LINES at most); warnings and errors are
never held. IVR_LOG_FLUSH_SECONDS=0 writes every line at once, as a plain StreamHandler would.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import IO

MAX_LINES = 2000  # a batch this long is written at once, whatever the time


class BufferedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler that writes its formatted lines in batches (see the module's text)."""

    def __init__(self, stream: IO[str] | None = None, every: float = 1.0,
                 monotonic: Callable[[], float] = time.monotonic,
                 flush_level: int = logging.WARNING) -> None:
        """A handler writing to `stream` (stderr) at most `every` seconds after a line."""
        super().__init__(stream)
        self.every, self.monotonic, self.flush_level = every, monotonic, flush_level
        self.pending: list[str] = []
        self.due = 0.0
        self.writer_pid = 0  # the process whose writer thread runs (none survives a fork)
        self.stopped = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        """Format the record now; write the batch if it is due (or the record is serious)."""
        try:
            line = self.format(record) + self.terminator
        except Exception:  # noqa: BLE001 - logging's own rule: a bad record never raises
            self.handleError(record)
            return
        if self.every <= 0:
            self._write([line])
            return
        now = self.monotonic()
        if not self.pending:
            self.due = now + self.every
        self.pending.append(line)
        if record.levelno >= self.flush_level or len(self.pending) >= MAX_LINES \
                or now >= self.due:
            self.flush()
        elif self.writer_pid != os.getpid():
            self._start_writer()

    def flush(self) -> None:
        """Write what is pending, in one write and one flush of the stream."""
        self.acquire()
        try:
            lines, self.pending = self.pending, []
            if lines:
                self._write(lines)
        finally:
            self.release()

    def _write(self, lines: list[str]) -> None:
        """One write of the lines and one flush of the stream."""
        try:
            self.stream.write("".join(lines))
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stream: nothing else to do
            pass

    def _start_writer(self) -> None:
        """Start this process's writer thread (the master's does not survive gunicorn's fork)."""
        self.writer_pid = os.getpid()
        threading.Thread(target=self._write_every, name="log-writer", daemon=True).start()

    def _write_every(self) -> None:
        """Write the batch every `every` seconds until the handler is closed."""
        while not self.stopped.wait(self.every):
            if self.pending:
                self.flush()

    def close(self) -> None:
        """Write what is left and stop the writer thread."""
        self.flush()
        self.stopped.set()
        super().close()


class LineFormatter(logging.Formatter):
    """`%(asctime)s %(levelname)s %(name)s %(message)s`, its time text made once per second.

    `logging.Formatter` calls `time.strftime` for every record; a webhook's line needs the
    same text as the previous line's in that second, with its own milliseconds.
    """

    def __init__(self) -> None:
        """The service's line format."""
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self.second, self.second_text = -1, ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        """`YYYY-MM-DD HH:MM:SS,mmm` in local time, as logging's default."""
        second = int(record.created)
        if second != self.second:
            self.second_text = time.strftime(self.default_time_format,
                                             self.converter(record.created))
            self.second = second
        return f"{self.second_text},{int(record.msecs):03d}"


def flush_all(logger: logging.Logger) -> None:
    """Write the batches of every handler of `logger` (a worker about to exit)."""
    for handler in logger.handlers:
        handler.flush()
