"""Only Twilio may drive a call: everything under /voice is checked before any view runs.

The gate, in order, each step cheaper than the next: a body larger than IVR_MAX_BODY_BYTES is
refused unread (413); a signature header that is not even the shape of Twilio's (base64 of a
SHA-1 or SHA-256 HMAC) is refused before the body is touched (403); then the one HMAC over the
URL and the parameters (403 when it differs). The result is kept with the request, so no
signature is computed twice.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import Flask, abort, current_app, request
from twilio.request_validator import RequestValidator, compare, get_signature_algorithm
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import LimitedStream

log = logging.getLogger("ivr.signature")
_SAFE = "/:@!$&'()*+,;=-._~"
SIGNED = "ivr.signed"  # the request's verdict, kept in its WSGI environ
GUARDED = "/voice"  # every webhook Twilio calls lives under this path
# Twilio's signature is base64 of an HMAC: 20 bytes (SHA-1) is 28 characters, 32 (SHA-256) 44.
_SHAPES = {
    "HMAC_SHA1": re.compile(r"[A-Za-z0-9+/]{27}="),
    "HMAC_SHA256": re.compile(r"[A-Za-z0-9+/]{43}="),
}


def init_app(app: Flask) -> None:
    """Build the validator once and guard /voice.

    What is missing or weak is said when serving starts (`warn_when_serving`), not here: an
    admin command needs no token.
    """
    token = app.config["TWILIO_AUTH_TOKEN"]
    app.extensions["ivr.validator"] = RequestValidator(token) if token else None
    # Werkzeug also stops a body without Content-Length (chunked) at this size while reading.
    app.config["MAX_CONTENT_LENGTH"] = app.config["IVR_MAX_BODY_BYTES"]
    app.before_request(_gate)


def warn_when_serving(app: Flask) -> None:
    """Warn loudly, as the server starts, when checks are off, impossible or weak."""
    token = app.config["TWILIO_AUTH_TOKEN"]
    if not app.config["IVR_SIGNATURE_CHECK"]:
        log.warning("IVR_SIGNATURE_CHECK=off: webhooks accept UNSIGNED requests. Anyone who "
                    "finds this URL can drive calls. Use this for local development only.")
    elif not token:
        log.error("TWILIO_AUTH_TOKEN is not set: every webhook answers 403 until it is (or "
                  "set IVR_SIGNATURE_CHECK=off for local development).")
    elif not app.config["PUBLIC_BASE_URL"]:
        log.warning("PUBLIC_BASE_URL is not set: signatures are checked against the Host the "
                    "request names, so a request signed for another app of the same Twilio "
                    "account (staging) validates here too. Set PUBLIC_BASE_URL=https://your-host "
                    "(and behind a proxy, have it overwrite X-Forwarded-*).")


def _gate() -> None:
    """Under /voice: refuse an oversized body (413) or an unsigned request (403), unread."""
    if not request.path.startswith(GUARDED):
        return
    if (request.content_length or 0) > current_app.config["IVR_MAX_BODY_BYTES"]:
        raise RequestEntityTooLarge()
    if not is_signed():
        log.warning("refused a request with a missing or wrong signature: %s",
                    json.dumps(f"{request.method} {request.path}"[:300]))
        abort(403)


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
    """Whether the current request carries a valid Twilio signature (worked out once)."""
    verdict = request.environ.get(SIGNED)
    if verdict is None:
        verdict = request.environ[SIGNED] = _check()
    return bool(verdict)


def _check() -> bool:
    """The signature check: its header's shape first, then the one HMAC."""
    if not current_app.config["IVR_SIGNATURE_CHECK"]:
        return True
    validator = get_validator()
    given = request.headers.get("X-Twilio-Signature", "")
    algorithm = get_signature_algorithm(request.headers.get("X-Twilio-Webhooks-Signature-Settings"))
    shape = _SHAPES.get(algorithm.upper())
    if validator is None or shape is None or not shape.fullmatch(given):
        return False
    params = _form() if request.method == "POST" else {}
    return signature_matches(validator, public_url(), params, given, algorithm)


def _form() -> Any:
    """The POSTed parameters, read once.

    A body sent without Content-Length (chunked) that fills the whole limit is refused (413),
    not parsed in part.
    """
    form = request.form
    stream = request.stream
    if request.content_length is None and isinstance(stream, LimitedStream) \
            and stream.is_exhausted:
        raise RequestEntityTooLarge()
    return form


def signature_matches(validator: RequestValidator, url: str, params: Any, given: str,
                      algorithm: str) -> bool:
    """Twilio's signature: one HMAC of the URL followed by the sorted parameters."""
    return bool(compare(validator.compute_signature(url, params, algorithm), given))


def twilio_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Answer 403 to any request that Twilio did not sign (the gate's verdict, not recomputed)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        """Check the signature, then run the view."""
        if not is_signed():
            abort(403)
        return view(*args, **kwargs)

    return wrapped
