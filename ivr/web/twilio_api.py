"""Twilio's REST API through the `twilio` library's own client, with the account's credentials.

Used by the console (calls, recordings) and by the analysts' number (dequeuing a caller).

TWILIO_API_BASE_URL (empty in production) sends the library's requests to another base URL
through its `http_client` hook: the tests point it at a local fake of the REST API.
"""

from __future__ import annotations

from typing import Any

import requests
from flask import current_app
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

TWILIO_API = "https://api.twilio.com"
TIMEOUT = 10.0
DEQUEUED, GONE, FAILED = "dequeued", "gone", "failed"  # what `dequeue` did
SHORT_TIMEOUT = 3.0  # inside a webhook: Twilio waits for our answer (15 s at most)


class BaseUrlHttpClient(TwilioHttpClient):
    """The library's HTTP client, sending api.twilio.com's requests to `base` when set."""

    def __init__(self, base: str, timeout: float = TIMEOUT) -> None:
        """Keep the base URL that requests to Twilio's API go to instead."""
        super().__init__(timeout=timeout)
        self.base = base

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        """Rewrite the base of the URL, then send it as the library would."""
        if self.base and url.startswith(TWILIO_API):
            url = self.base + url[len(TWILIO_API):]
        return super().request(method, url, *args, **kwargs)


class NotConfigured(RuntimeError):
    """TWILIO_ACCOUNT_SID or TWILIO_AUTH_TOKEN is missing."""


def client(timeout: float = TIMEOUT) -> Client:
    """A REST client for the account in the settings (each request bounded by `timeout`)."""
    if not configured():
        raise NotConfigured("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are needed")
    sid, token = credentials()
    return Client(sid, token, http_client=BaseUrlHttpClient(api_base(), timeout))


def configured() -> bool:
    """Whether the account's REST credentials are in the settings."""
    sid, token = credentials()
    return bool(sid and token)


def api_base() -> str:
    """Where the REST API is (api.twilio.com unless TWILIO_API_BASE_URL says otherwise)."""
    return str(current_app.config.get("TWILIO_API_BASE_URL") or "")


def credentials() -> tuple[str, str]:
    """The account SID and Auth Token (recordings need them when media protection is on)."""
    return (current_app.config.get("TWILIO_ACCOUNT_SID", ""),
            current_app.config.get("TWILIO_AUTH_TOKEN", ""))


def media_url(url: str) -> str | None:
    """A recording URL the app may fetch with the account's credentials, else None.

    Twilio's, or the configured base's: the credentials are never sent anywhere else.
    """
    base = api_base()
    for allowed in (TWILIO_API, base):
        if allowed and url.startswith(allowed + "/"):
            return (base + url[len(TWILIO_API):]) if base and allowed == TWILIO_API else url
    return None


def dequeue(call_sid: str, queue_sid: str | None, queue_name: str, url: str) -> str:
    """Take this very call out of its queue to run `url` (POST): DEQUEUED, GONE or FAILED.

    GONE: Twilio answered 404, the call is no longer in that queue (hung up, or taken).
    FAILED: no credentials, no such queue, or any other error (each request SHORT_TIMEOUT).
    Without the queue's SID, it is looked up by the queue's name.
    """
    if not configured():
        return FAILED
    try:
        rest = client(SHORT_TIMEOUT)
        sid = queue_sid or _queue_sid(rest, queue_name)
        if sid is None:
            return FAILED
        rest.queues(sid).members(call_sid).update(url=url, method="POST")
    except TwilioRestException as e:
        return GONE if e.status == 404 else FAILED
    except (TwilioException, requests.RequestException, OSError, ValueError):
        return FAILED
    return DEQUEUED


def _queue_sid(rest: Client, name: str) -> str | None:
    """The SID of the account's queue called `name`, if there is one."""
    for queue in rest.queues.list(limit=1000):
        if queue.friendly_name == name:
            return str(queue.sid)
    return None
