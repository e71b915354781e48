"""gunicorn settings, read by `gunicorn wsgi:app`; each can be overridden from the environment.

Worker model: threads (gthread). A sync worker is held by one connection from its first byte to
its last, so two clients that send half a request header and stop hold both workers and the
line goes silent. A gthread worker waits for a connection's first bytes in its event loop, not
in a thread, and serves requests from a pool of threads: a stalled client holds one thread of
`threads`, not the whole worker. The limits and the measurements are in docs/reliability.md;
in production nginx (deploy/nginx/ivr.conf) buffers whole requests, so gunicorn never sees a
slow client at all.
"""

import gc
import logging
import os


def _flag(name: str, default: str) -> bool:
    """An on/off setting from the environment."""
    return os.environ.get(name, default).strip().lower() not in {"off", "0", "false", "no", ""}


bind = os.environ.get("BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
# Each worker answers this many requests at once; a client that stalls mid-request holds one.
threads = int(os.environ.get("GUNICORN_THREADS", "32"))
# A worker accepts no more connections than it has threads, so every connection it holds has
# a thread: a worker whose threads are all held by stalled clients stops accepting and the
# other one answers, instead of queueing a caller behind them. Hence no keep-alive by default
# (a kept-alive connection would need a slot beyond the threads); behind nginx, which opens a
# connection per request to gunicorn anyway, it costs nothing. GUNICORN_KEEPALIVE=5 brings it
# back (with 4 spare slots per worker) for benchmarks straight at gunicorn.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "0"))
worker_connections = threads + (4 if keepalive else 0)
# Webhooks are short; a request that takes longer than this is stuck, and Twilio gave up anyway.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "15"))
graceful_timeout = 10
# The service logs one JSON line per webhook (call, line, node, outcome); gunicorn's access
# log would repeat it and print query strings (our URLs carry case numbers in `n=`): off
# unless GUNICORN_ACCESS_LOG=on.
accesslog = "-" if _flag("GUNICORN_ACCESS_LOG", "off") else None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Load the menus once in the master: a broken menu stops the start, workers share the pages.
preload_app = True


def pre_fork(server: object, worker: object) -> None:
    """Keep the loaded app's objects out of the garbage collector's reach before forking.

    A collection in a worker writes to every object it visits, so the pages the worker shares
    with the master (the menus, Flask, SQLAlchemy...) would become its own copies; frozen,
    they stay shared (docs/performance.md: memory).
    """
    gc.freeze()


def worker_exit(server: object, worker: object) -> None:
    """Write the worker's batched log lines before it exits (ivr.log_buffer)."""
    for handler in logging.getLogger("ivr").handlers:
        handler.flush()
