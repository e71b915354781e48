"""A local fake of Twilio's REST API (calls, recordings) that records what it receives, and a
helper that serves an app on a loopback port: both for the console's tests."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

ACCOUNT = "AC" + "1" * 32
RECORDING = b"ID3fake-mp3-bytes"


@dataclass
class FakeTwilio:
    """What the fake received: (method, path, form, basic-auth user) per request."""

    token: str
    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        """Answer like Twilio's REST API for the few resources the console uses."""
        request = Request(environ)
        user, password = _basic(request.headers.get("Authorization", ""))
        self.received.append({"method": request.method, "path": request.path,
                              "form": request.form.to_dict(), "user": user})
        if (user, password) != (ACCOUNT, self.token):
            return Response(json.dumps({"code": 20003, "message": "Authenticate"}), 401,
                            mimetype="application/json")(environ, start_response)
        if request.method == "POST" and request.path.endswith("/Calls.json"):
            sid = f"CA{len(self.received):032d}"
            body = {"sid": sid, "status": "queued", "to": request.form.get("To"),
                    "from": request.form.get("From"), "account_sid": ACCOUNT}
            return Response(json.dumps(body), 201, mimetype="application/json")(
                environ, start_response)
        if request.path.endswith(".mp3"):
            return Response(RECORDING, mimetype="audio/mpeg")(environ, start_response)
        return Response("{}", 404, mimetype="application/json")(environ, start_response)

    def calls(self) -> list[dict[str, Any]]:
        """The calls the app asked Twilio to place."""
        return [r for r in self.received if r["path"].endswith("/Calls.json")]


def _basic(header: str) -> tuple[str, str]:
    """The user and password of a Basic Authorization header."""
    if not header.startswith("Basic "):
        return "", ""
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve a WSGI app on a free loopback port in a thread; yield its base URL."""
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
