"""The floor: the same gunicorn and Flask answering a constant TwiML document, checking nothing.

It is the fastest any webhook of this stack can be; the benchmark reports every figure as a
ratio to it. FLOOR_BYTES sets the document's size (the service's welcome menu, measured).
"""

from __future__ import annotations

import os

from flask import Flask, Response

SIZE = int(os.environ.get("FLOOR_BYTES", "600"))
HEAD = '<?xml version="1.0" encoding="UTF-8"?><Response><Say>'
TAIL = "</Say></Response>"
DOCUMENT = HEAD + "x" * max(0, SIZE - len(HEAD) - len(TAIL)) + TAIL


def create_app() -> Flask:
    """A Flask app with one view: POST anything, get the constant document."""
    app = Flask(__name__)

    @app.post("/<path:anything>")
    @app.post("/")
    def constant(anything: str = "") -> Response:
        """The constant TwiML document."""
        return Response(DOCUMENT, mimetype="text/xml")

    return app


app = create_app()
