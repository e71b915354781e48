"""The short version of the fault harness (bench/faults.py): the same drills, smaller counts.

`IVR_FUZZ_EXAMPLES` and `IVR_DRILL_CALLS` raise the counts; the full run is
`python -m bench.faults` (docs/reliability.md).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from flask import Flask
from twilio.request_validator import RequestValidator

from bench import faults
from tests.conftest import POSTGRES_ENV, TOKEN, _saved_postgres_url

EXAMPLES = int(os.environ.get("IVR_FUZZ_EXAMPLES", "2500"))
CALLS = int(os.environ.get("IVR_DRILL_CALLS", "300"))


def test_hostile_signed_requests_get_valid_twiml_never_5xx(app: Flask) -> None:
    """Thousands of signed requests with hostile values to every webhook: no 5xx, all TwiML."""
    tally = faults.fuzz(faults.in_process_post(app), EXAMPLES, RequestValidator(TOKEN),
                        "http://localhost")
    assert tally.sent == EXAMPLES
    # Signed, so never refused: every one answered 200 with TwiML the schema accepts (a 403
    # or 404 for all of them would be a service that serves nobody, not a robust one).
    assert tally.statuses == {200: EXAMPLES}, tally.examples
    assert tally.invalid_twiml == 0, tally.examples
    assert tally.answered == EXAMPLES


def test_forged_signatures_are_all_refused_and_genuine_ones_answered(app: Flask) -> None:
    """Forged, missing, other-token and replayed-to-another-URL signatures: all 403; the
    same requests signed as Twilio signs them: all 200 with their TwiML."""
    post, validator = faults.in_process_post(app), RequestValidator(TOKEN)
    tally = faults.forged(post, validator, "http://localhost")
    assert tally.statuses == {403: tally.sent}, tally.examples
    genuine = faults.genuine(post, validator, "http://localhost")
    assert genuine.statuses == {200: genuine.sent} and genuine.answered == genuine.sent, (
        genuine.examples)


def test_the_drills_count_a_service_that_refuses_everything_as_a_failure() -> None:
    """The harness itself: a `post` that answers 403 (or 404) to all is caught by both."""
    for status in (403, 404):
        def refuse(path: str, params: dict[str, str], signature: str,
                   status: int = status) -> tuple[int, bytes]:
            """A service that serves nobody."""
            return status, b"<html>no</html>"

        tally = faults.fuzz(refuse, 20, RequestValidator(TOKEN), "http://localhost")
        assert tally.answered == 0 and tally.invalid_twiml == 20
        assert faults.genuine(refuse, RequestValidator(TOKEN), "http://localhost").answered == 0


@pytest.mark.skipif(shutil.which("gunicorn") is None and not Path(
    faults.sys.executable).with_name("gunicorn").exists(), reason="gunicorn is not installed")
def test_killed_worker_loses_no_told_case(tmp_path: Path) -> None:
    """A worker SIGKILLed under load: only requests in flight fail; every told number stored."""
    result = faults.kill_worker(CALLS, tmp_path)
    assert result["killed"] == 1
    assert result["told but not stored"] == 0
    assert result["numbers given twice"] == 0
    assert result["failed"] <= 8  # at most the requests that worker had in flight
    assert result["numbers told"] + result["failed"] == result["requests"] == CALLS


@pytest.mark.skipif(shutil.which("chattr") is None, reason="chattr (e2fsprogs) not available")
def test_unwritable_database_still_routes_every_call(tmp_path: Path) -> None:
    """The SQLite files frozen half-way: calls are still answered and put through to people."""
    result = faults.database_away(CALLS, tmp_path)
    if result.get("frozen files", 0) == 0:
        pytest.skip("this file system does not support chattr +i")
    assert result["failed"] == 0 and result["apologies"] == 0
    routed = result["put through (queue or dial)"] + result[
        "team closed, on-call options offered"]
    assert routed == CALLS  # in hours the support queue; after hours the on-call options
    assert result["told no number could be given"] > 0


def test_postgresql_cut_off_mid_run_still_routes_every_call(tmp_path: Path) -> None:
    """PostgreSQL dropped a third of the way and back at two thirds: every call answered and
    routed, no apology, and every number told to a caller is stored."""
    url = os.environ.get(POSTGRES_ENV) or _saved_postgres_url
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set (CI sets it; see .ci/run)")
    result = faults.postgres_away(CALLS, tmp_path, url)
    assert result["phases"] == "cut+restored"
    assert result["failed"] == 0 and result["apologies"] == 0
    routed = result["put through (queue or dial)"] + result[
        "team closed, on-call options offered"]
    assert routed == CALLS
    assert result["told but not stored"] == 0
    assert 0 < result["told no number could be given"] < CALLS


GUNICORN = shutil.which("gunicorn") is not None or Path(
    faults.sys.executable).with_name("gunicorn").exists()


@pytest.mark.skipif(not GUNICORN, reason="gunicorn is not installed")
def test_dozens_of_stalled_connections_do_not_stop_the_line(tmp_path: Path) -> None:
    """40 connections that sent half a header and stopped, held open at the README's
    `gunicorn wsgi:app`: whole calls still complete, and the stalled ones were really held."""
    result = faults.slow_clients(40, 60, tmp_path)
    assert result["still held at the end"] == 40
    assert result["failed"] == 0 and result["numbers told"] == result["calls"] == 60


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed (CI installs "
                    "it: apt-get install nginx; see .ci/run)")
@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
@pytest.mark.skipif(not GUNICORN, reason="gunicorn is not installed")
def test_hundreds_of_stalled_clients_through_the_shipped_nginx(tmp_path: Path) -> None:
    """deploy/nginx/ivr.conf with TLS on loopback: 300 stalled clients, calls still complete."""
    result = faults.slow_clients(300, 60, tmp_path, proxy=True)
    assert result["still held at the end"] == 300
    assert result["failed"] == 0 and result["numbers told"] == result["calls"] == 60


@pytest.mark.skipif(not GUNICORN, reason="gunicorn is not installed")
def test_oversized_and_malformed_bodies_never_get_a_5xx(tmp_path: Path) -> None:
    """1 MB bodies (with Content-Length or chunked) get 413 TwiML; malformed or unsigned
    requests 403; no log line forged, no traceback."""
    by_name = {row["sent"]: row for row in faults.hostile_bodies(tmp_path)}
    statuses = [row["status"] for name, row in by_name.items() if not name.startswith(("log",
                                                                                         "trace"))]
    assert all(0 < status < 500 for status in statuses), by_name
    big = [row for name, row in by_name.items() if name.startswith(("1 MB", "the same 1 MB"))]
    assert [(row["status"], row["TwiML"]) for row in big] == [(413, True), (413, True)]
    assert by_name["log lines forged by the %0A path"]["status"] == 0
    assert by_name["tracebacks in the service log"]["status"] == 0
    assert by_name["a well-formed signed call (for comparison)"]["status"] == 200


@pytest.mark.skipif(not GUNICORN, reason="gunicorn is not installed")
def test_a_request_lost_with_its_worker_is_answered_at_the_fallback(tmp_path: Path) -> None:
    """SIGKILL the worker holding a key press; the replay at /voice/fallback reaches people."""
    result = faults.fallback_replay(tmp_path)
    assert result["request lost with the worker"] is True
    assert result["fallback answered"] and result["apology said"]
    assert result["caller reaches people"]
