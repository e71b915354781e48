"""Two analysts press "Tomar la siguiente" at the same instant on two workers sharing one
database: each callback goes to exactly one of them. On SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask

from tests.conftest import Clock
from tests.test_console import add_user, client_for, log_in, token
from tests.test_console_callbacks import register, rows

ROUNDS = 4
CALLBACKS = 6


@pytest.fixture
def database_url(store_url: str) -> str:
    """The apps of this module run on each engine (a clean, migrated database)."""
    return store_url


def test_two_analysts_claiming_at_once_never_get_the_same_callback(make_app: Any,
                                                                  clock: Clock) -> None:
    """Two workers, two analysts, claims released together by a barrier, more claims than
    callbacks: every callback is claimed once, the extra claims find none."""
    workers: list[Flask] = [make_app(), make_app()]
    for n in range(CALLBACKS):
        register(workers[0].test_client(), clock, n, f"10:{n:02d}", "2")
    analysts = []
    for name, app in zip(("ana", "beto"), workers, strict=True):
        assert add_user(app.test_cli_runner(), name, "analyst").exit_code == 0
        browser = client_for(app)
        log_in(browser, name)
        analysts.append((browser, token(browser.get("/console/callbacks").data)))
    barrier = threading.Barrier(len(analysts))
    won: list[str] = []

    def claims(browser: Any, csrf: str) -> None:
        """ROUNDS claims, each started with the other analyst's."""
        for _ in range(ROUNDS):
            barrier.wait(timeout=30)
            response = browser.post("/console/callbacks/cco/claim", data={"csrf_token": csrf})
            assert response.status_code == 302
            won.append(response.headers["Location"].rsplit("/", 1)[1])

    threads = [threading.Thread(target=claims, args=pair) for pair in analysts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    claimed = [w for w in won if w.isdigit()]
    assert len(won) == 2 * ROUNDS
    assert len(claimed) == CALLBACKS == len(set(claimed))
    assert won.count("callbacks") == 2 * ROUNDS - CALLBACKS
    assert {r.claimed_by for r in rows(workers[0])} == {"web:1", "web:2"}
