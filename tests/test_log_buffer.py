"""The call log is written in batches: within a second, at once for warnings, at exit."""

from __future__ import annotations

import io
import logging
import os
import runpy
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from ivr.core.twiml import Hook
from ivr.log_buffer import MAX_LINES, BufferedStreamHandler, LineFormatter
from tests.conftest import BASE, CERTICAMARA, Caller

ROOT = Path(__file__).resolve().parents[1]


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        """At zero."""
        self.now = 0.0

    def __call__(self) -> float:
        """The current reading."""
        return self.now


def _record(message: str, level: int = logging.INFO) -> logging.LogRecord:
    """A log record of the call log."""
    return logging.LogRecord("ivr.calls", level, "", 0, message, (), None)


@pytest.fixture
def ticks() -> Ticks:
    """The handler's monotonic clock."""
    return Ticks()


@pytest.fixture
def buffered(ticks: Ticks) -> Iterator[tuple[BufferedStreamHandler, io.StringIO]]:
    """A handler writing to a string, batching for 1 s of the test's clock."""
    stream = io.StringIO()
    handler = BufferedStreamHandler(stream, every=1.0, monotonic=ticks)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.writer_pid = os.getpid()  # no writer thread: the test's clock alone decides
    yield handler, stream
    handler.close()


def test_lines_wait_for_the_second_then_go_in_one_write(
    buffered: tuple[BufferedStreamHandler, io.StringIO], ticks: Ticks
) -> None:
    """Lines logged within a second are held; the first line after it writes them all."""
    handler, stream = buffered
    handler.handle(_record("one"))
    ticks.now = 0.5
    handler.handle(_record("two"))
    assert stream.getvalue() == ""
    ticks.now = 1.0
    handler.handle(_record("three"))
    assert stream.getvalue() == "INFO one\nINFO two\nINFO three\n"


def test_a_warning_goes_at_once_after_what_was_held(
    buffered: tuple[BufferedStreamHandler, io.StringIO]
) -> None:
    """A WARNING is never held, and the lines before it are written first (order kept)."""
    handler, stream = buffered
    handler.handle(_record("held"))
    handler.handle(_record("trouble", logging.WARNING))
    assert stream.getvalue() == "INFO held\nWARNING trouble\n"


def test_closing_writes_what_is_held(buffered: tuple[BufferedStreamHandler, io.StringIO]) -> None:
    """A normal stop (logging.shutdown closes every handler) loses nothing."""
    handler, stream = buffered
    handler.handle(_record("last"))
    handler.close()
    assert stream.getvalue() == "INFO last\n"


def test_a_full_batch_is_written_at_once(
    buffered: tuple[BufferedStreamHandler, io.StringIO]
) -> None:
    """MAX_LINES lines are written without waiting for the second."""
    handler, stream = buffered
    for i in range(MAX_LINES):
        handler.handle(_record(str(i)))
    assert stream.getvalue().count("\n") == MAX_LINES


def test_zero_seconds_writes_every_line_at_once(ticks: Ticks) -> None:
    """IVR_LOG_FLUSH_SECONDS=0: a plain stream handler."""
    stream = io.StringIO()
    handler = BufferedStreamHandler(stream, every=0, monotonic=ticks)
    handler.handle(_record("now"))
    assert stream.getvalue() == "now\n"


def test_the_writer_thread_writes_a_quiet_worker_s_lines() -> None:
    """With no further line to carry them, the writer thread writes the held lines."""

    class Signalling(io.StringIO):
        """A stream that says when it was written to."""

        written = threading.Event()

        def write(self, text: str) -> int:
            """Write, then signal."""
            count = super().write(text)
            self.written.set()
            return count

    stream = Signalling()
    handler = BufferedStreamHandler(stream, every=0.01)
    handler.handle(_record("quiet"))
    assert Signalling.written.wait(10)
    handler.close()
    assert stream.getvalue() == "quiet\n"


def test_the_line_format_is_loggings_own() -> None:
    """The once-per-second time text gives the same line as logging's default formatter."""
    plain = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    ours = LineFormatter()
    for created in (1_700_000_000.25, 1_700_000_000.999, 1_700_000_001.0):
        record = _record("x")
        record.created, record.msecs = created, (created - int(created)) * 1000
        assert ours.format(record) == plain.format(record)


def test_gunicorn_flushes_the_log_when_a_worker_exits(monkeypatch: pytest.MonkeyPatch) -> None:
    """gunicorn.conf.py's worker_exit writes the held lines of the service's handlers."""
    stream = io.StringIO()
    handler = BufferedStreamHandler(stream, every=1.0, monotonic=lambda: 0.0)
    handler.writer_pid = os.getpid()
    logger = logging.getLogger("ivr")
    monkeypatch.setattr(logger, "handlers", [handler])
    handler.handle(_record("before exit"))
    assert stream.getvalue() == ""
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    settings["worker_exit"](None, None)
    assert stream.getvalue() == "before exit\n"


def test_every_webhook_checks_its_signature_and_logs_one_line(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """Each webhook (every route under /voice): unsigned or wrongly signed is 403; signed, it
    leaves exactly one call-log line."""
    caller = Caller(app.test_client())
    values = {"line_id": "certicamara", "node_id": "principal", "call_id": 1}
    params = {"To": CERTICAMARA, "CallSid": caller.sid, "Digits": "1"}
    adapter = app.url_map.bind("localhost")
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/voice")]
    assert {rule.endpoint for rule in rules} >= {hook.value for hook in Hook
                                                 if hook is not Hook.AUDIO}
    for rule in rules:
        url = adapter.build(rule.endpoint, {name: values.get(name, 1)
                                            for name in rule.arguments})
        for signature in ("", "A" * 27 + "=",
                          caller.validator.compute_signature(BASE + url + "x", params)):
            assert caller.post(url, params, signature=signature).status_code == 403, rule
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="ivr.calls"):
            assert caller.post(url, params).status_code == 200, rule
        lines = [r for r in caplog.records if r.name == "ivr.calls"
                 and r.getMessage().startswith('{"event": "webhook"')]
        assert len(lines) == 1, (rule, [r.getMessage() for r in caplog.records])
