"""The WSGI entry point: `gunicorn wsgi:app` (settings in gunicorn.conf.py)."""

from ivr import create_app
from ivr.web import signature

app = create_app()
# Only serving needs the Auth Token: say so here, not under every admin command.
signature.warn_when_serving(app)
