"""Only Twilio may drive a call: every webhook checks `X-Twilio-Signature`."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import Flask, abort, current_app, request
from twilio.request_validator import RequestValidator, compare, get_signature_algorithm

log = logging.getLogger("ivr.signature")
_SAFE = "/:@!$&'()*+,;=-._~"


def init_app(app: Flask) -> None:
    """Build the validator once.

    What is missing is said when serving starts (`warn_when_serving`), not here: an admin
    command needs no token.
    """
    token = app.config["TWILIO_AUTH_TOKEN"]
    app.extensions["ivr.validator"] = RequestValidator(token) if token else None


def warn_when_serving(app: Flask) -> None:
    """Warn loudly, as the server starts, when checks are off or impossible."""
    token = app.config["TWILIO_AUTH_TOKEN"]
    if not app.config["IVR_SIGNATURE_CHECK"]:
        log.warning("IVR_SIGNATURE_CHECK=off: webhooks accept UNSIGNED requests. Anyone who "
                    "finds this URL can drive calls. Use this for local development only.")
    elif not token:
        log.error("TWILIO_AUTH_TOKEN is not set: every webhook answers 403 until it is (or "
                  "set IVR_SIGNATURE_CHECK=off for local development).")


def get_validator() -> RequestValidator | None:
    """The validator of this app's Auth Token (None without a token: nothing validates)."""
    validator: RequestValidator | None = current_app.extensions["ivr.validator"]
    return validator


def public_url() -> str:
    """The URL Twilio called: PUBLIC_BASE_URL plus the path, else the request's own URL.

    The path and query are taken as sent (the server's raw request line) where the server
    gives it, so that an escaped character is signed exactly as Twilio wrote it.
    """
    base = current_app.config["PUBLIC_BASE_URL"] or (
        f"{request.scheme}://{request.host}{quote(request.script_root, safe=_SAFE)}")
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw:
        return f"{base}{raw}"
    query = request.query_string.decode("latin-1")
    path = quote(request.path, safe=_SAFE)
    return f"{base}{path}?{query}" if query else f"{base}{path}"


def is_signed() -> bool:
    """Whether the current request carries a valid Twilio signature."""
    if not current_app.config["IVR_SIGNATURE_CHECK"]:
        return True
    validator = get_validator()
    given = request.headers.get("X-Twilio-Signature", "")
    if validator is None or not given:
        return False
    algorithm = get_signature_algorithm(request.headers.get("X-Twilio-Webhooks-Signature-Settings"))
    params = request.form if request.method == "POST" else {}
    url = public_url()
    try:  # the common case first: one HMAC over the URL exactly as received
        if compare(validator.compute_signature(url, params, algorithm), given):
            return True
    except ValueError:
        return False  # an algorithm Twilio does not have
    # then the library's full check, which also tries the URL with and without its port
    return bool(validator.validate(url, params, given, algorithm))


def twilio_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Answer 403 to any request that Twilio did not sign."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        """Check the signature, then run the view."""
        if not is_signed():
            log.warning("refused a request with a missing or wrong signature: %s %s",
                        request.method, request.path)
            abort(403)
        return view(*args, **kwargs)

    return wrapped
