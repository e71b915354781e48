"""gunicorn settings, read by `gunicorn wsgi:app`; each can be overridden from the environment."""

import os

bind = os.environ.get("BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Webhooks are short; a request that takes longer than this is stuck, and Twilio gave up anyway.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "15"))
graceful_timeout = 10
keepalive = 5
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Load the menus once in the master: a broken menu stops the start, workers share the pages.
preload_app = True
