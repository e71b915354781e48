"""The WSGI entry point: `gunicorn wsgi:app` (settings in gunicorn.conf.py)."""

from ivr import console, create_app
from ivr.web import signature

app = create_app()
# Only serving needs the Auth Token and the console's key: say so here, not under every admin
# command.
signature.warn_when_serving(app)
console.warn_when_serving(app)
