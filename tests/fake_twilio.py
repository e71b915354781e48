"""A local fake of Twilio's REST API (calls, recordings, queues and their members) that records
what it receives, and a helper that serves an app on a loopback port: for the console's and the
analysts' number's tests."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

ACCOUNT = "AC" + "1" * 32
_MEMBER = re.compile(rf"/2010-04-01/Accounts/{ACCOUNT}/Queues/(?P<queue>QU\w+)"
                     r"/Members/(?P<call>CA\w+)\.json")
RECORDING = b"ID3fake-mp3-bytes"


@dataclass
class FakeTwilio:
    """What the fake received: (method, path, form, basic-auth user) per request.

    `queues` (friendly name -> QueueSid) and `members` (QueueSid -> the CallSids in it) are the
    account's queues; a member update dequeues the call (404 when it is not in that queue), or
    answers `member_status` when set (a failing API).
    """

    token: str
    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    queues: dict[str, str] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)
    member_status: int | None = None
    on_member: Callable[[], None] | None = None  # called on each member update (a slow API)

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
        if request.method == "GET" and request.path.endswith("/Queues.json"):
            return _json(self._queue_list(request.path), 200)(environ, start_response)
        member = _MEMBER.fullmatch(request.path)
        if request.method == "POST" and member:
            return self._dequeue(member["queue"], member["call"])(environ, start_response)
        if request.path.endswith(".mp3"):
            return Response(RECORDING, mimetype="audio/mpeg")(environ, start_response)
        return Response("{}", 404, mimetype="application/json")(environ, start_response)

    def _queue_list(self, path: str) -> dict[str, Any]:
        """One page with every queue, as Twilio lists them."""
        queues = [{"sid": sid, "friendly_name": name, "account_sid": ACCOUNT,
                   "current_size": len(self.members.get(sid, [])), "max_size": 1000,
                   "average_wait_time": 0, "uri": path.replace(".json", f"/{sid}.json")}
                  for name, sid in self.queues.items()]
        return {"queues": queues, "first_page_uri": path, "next_page_uri": None,
                "previous_page_uri": None, "page": 0, "page_size": 50, "uri": path, "start": 0,
                "end": len(queues) - 1}

    def _dequeue(self, queue: str, call: str) -> Response:
        """Take `call` out of `queue` (it will run the url given), or 404 if not in it."""
        if self.on_member is not None:
            self.on_member()
        if self.member_status is not None:
            return _json({"code": 20500, "message": "Internal error"}, self.member_status)
        waiting = self.members.get(queue, [])
        if call not in waiting:
            return _json({"code": 20404, "message": "not found", "status": 404}, 404)
        position = waiting.index(call) + 1
        waiting.remove(call)
        return _json({"call_sid": call, "queue_sid": queue, "position": position,
                      "wait_time": 0, "date_enqueued": None, "uri": ""}, 200)

    def member_updates(self) -> list[dict[str, Any]]:
        """The members the app asked Twilio to dequeue: queue, call, form (url, method)."""
        found = []
        for r in self.received:
            member = _MEMBER.fullmatch(r["path"])
            if r["method"] == "POST" and member:
                found.append({"queue": member["queue"], "call": member["call"],
                              "form": r["form"]})
        return found

    def calls(self) -> list[dict[str, Any]]:
        """The calls the app asked Twilio to place."""
        return [r for r in self.received if r["path"].endswith("/Calls.json")]


def _json(body: dict[str, Any], status: int) -> Response:
    """A JSON answer."""
    return Response(json.dumps(body), status, mimetype="application/json")


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
