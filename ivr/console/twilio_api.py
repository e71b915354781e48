"""Twilio's REST API through the `twilio` library's own client, with the account's credentials.

TWILIO_API_BASE_URL (empty in production) sends the library's requests to another base URL
through its `http_client` hook: the tests point it at a local fake of the REST API.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

TWILIO_API = "https://api.twilio.com"
TIMEOUT = 10.0


class BaseUrlHttpClient(TwilioHttpClient):
    """The library's HTTP client, sending api.twilio.com's requests to `base` when set."""

    def __init__(self, base: str) -> None:
        """Keep the base URL that requests to Twilio's API go to instead."""
        super().__init__(timeout=TIMEOUT)
        self.base = base

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        """Rewrite the base of the URL, then send it as the library would."""
        if self.base and url.startswith(TWILIO_API):
            url = self.base + url[len(TWILIO_API):]
        return super().request(method, url, *args, **kwargs)


class NotConfigured(RuntimeError):
    """TWILIO_ACCOUNT_SID or TWILIO_AUTH_TOKEN is missing."""


def client() -> Client:
    """A REST client for the account in the settings."""
    sid = current_app.config.get("TWILIO_ACCOUNT_SID", "")
    token = current_app.config.get("TWILIO_AUTH_TOKEN", "")
    if not sid or not token:
        raise NotConfigured("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are needed")
    return Client(sid, token, http_client=BaseUrlHttpClient(api_base()))


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
