"""Only Twilio may drive a call: everything under /voice is checked before any view runs.

The gate, in order, each step cheaper than the next: a body larger than IVR_MAX_BODY_BYTES is
refused unread (413); a signature header that is not even the shape of Twilio's (base64 of a
SHA-1 or SHA-256 HMAC) is refused before the body is touched (403); then the one HMAC over the
URL and the parameters (403 when it differs). The result is kept with the request, so no
signature is computed twice.

The body is read once, as bytes, and parsed once with `urllib.parse.parse_qsl` (what
Werkzeug's own form parser calls, with the same error handling), not into a MultiDict: the
pairs give both the signature's parameters and `form_params()`, which every webhook reads.
`request.form` still works for anyone who wants it (Werkzeug parses the cached bytes again).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import io
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote

import werkzeug.urls  # noqa: F401 - registers the "werkzeug.url_quote" codec error handler
from flask import Flask, Request, abort, current_app, request
from twilio.request_validator import RequestValidator, compare, get_signature_algorithm
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.wsgi import LimitedStream, get_host

log = logging.getLogger("ivr.signature")
_SAFE = "/:@!$&'()*+,;=-._~"
SIGNED = "ivr.signed"  # the request's verdict, kept in its WSGI environ
PARAMS = "ivr.params"  # the request's parameters (first value of each), kept in its environ
FORM = "application/x-www-form-urlencoded"
_HASHES = {"HMAC_SHA1": hashlib.sha1, "HMAC_SHA256": hashlib.sha256}
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
    environ = request.environ
    if not environ.get("PATH_INFO", "").startswith(GUARDED):
        return
    length = environ.get("CONTENT_LENGTH")
    if length and length.isdigit() and int(length) > current_app.config["IVR_MAX_BODY_BYTES"]:
        raise RequestEntityTooLarge()
    if not is_signed():
        log.warning("refused a request with a missing or wrong signature: %s",
                    json.dumps(f"{request.method} {request.path}"[:300]))
        abort(403)


def public_url(environ: dict[str, Any], base: str) -> str:
    """The URL Twilio called: `base` (PUBLIC_BASE_URL) plus the path, else the request's own.

    The path and query are taken as sent (the server's raw request line) where the server
    gives it, so that an escaped character is signed exactly as Twilio wrote it. Without a
    base, scheme, host and script root as Werkzeug's request gives them.
    """
    if not base:
        root = decoded(environ.get("SCRIPT_NAME", "")).rstrip("/")
        base = f"{environ['wsgi.url_scheme']}://{get_host(environ)}{quote(root, safe=_SAFE)}"
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return f"{base}{raw}"
    query = environ.get("QUERY_STRING", "")
    path = quote(request_path(environ), safe=_SAFE)
    return f"{base}{path}?{query}" if query else f"{base}{path}"


def request_path(environ: dict[str, Any]) -> str:
    """The request's path, as Werkzeug's `request.path` gives it."""
    return "/" + decoded(environ.get("PATH_INFO", "")).lstrip("/")


def decoded(wsgi_text: str) -> str:
    """A WSGI string (bytes as latin-1) as the UTF-8 text it carries, as Werkzeug decodes it."""
    return wsgi_text.encode("latin-1").decode(errors="replace")


def is_signed() -> bool:
    """Whether the current request carries a valid Twilio signature (worked out once)."""
    verdict = request.environ.get(SIGNED)
    if verdict is None:
        verdict = request.environ[SIGNED] = _check()
    return bool(verdict)


def _check() -> bool:
    """The signature check: its header's shape first, then the one HMAC."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # one look-up
    if not app.config["IVR_SIGNATURE_CHECK"]:
        return True
    environ = request.environ
    expected = expected_signature(app, environ)
    if expected is None:
        return False
    pairs = _posted_pairs(request) if environ.get("REQUEST_METHOD") == "POST" else []
    return expected.matches(public_url(environ, app.config["PUBLIC_BASE_URL"]), pairs)


@dataclass(frozen=True)
class Expected:
    """A signature to check: the account's token, the algorithm, and what the request sent."""

    token: bytes
    algorithm: str
    given: str

    def matches(self, url: str, pairs: list[tuple[str, str]]) -> bool:
        """Whether the request's URL and parameters were signed with the token."""
        return signature_matches(self.token, url, pairs, self.given, self.algorithm)


def expected_signature(app: Flask, environ: dict[str, Any]) -> Expected | None:
    """What the request's signature is checked against; None when it cannot match at all.

    None: no Auth Token, or a signature header that is not the shape of Twilio's (checked
    before the body is read).
    """
    validator: RequestValidator | None = app.extensions["ivr.validator"]
    given = environ.get("HTTP_X_TWILIO_SIGNATURE", "")
    algorithm = get_signature_algorithm(environ.get("HTTP_X_TWILIO_WEBHOOKS_SIGNATURE_SETTINGS"))
    shape = _SHAPES.get(algorithm.upper())
    if validator is None or shape is None or not shape.fullmatch(given):
        return None
    return Expected(validator.token, algorithm, given)


def form_params(environ: dict[str, Any] | None = None) -> dict[str, str]:
    """Twilio's parameters: the POSTed form (the query string for a GET), first value of each.

    Parsed once per request, by the signature check or by the first webhook that asks;
    `environ` is the current request's, when the caller already has it.
    """
    if environ is None:
        environ = request.environ
    params: dict[str, str] | None = environ.get(PARAMS)
    if params is None:
        if environ.get("REQUEST_METHOD") == "POST":
            _posted_pairs(request)
        else:
            environ[PARAMS] = request.args.to_dict()
        params = environ[PARAMS]
    return params


def _posted_pairs(req: Request) -> list[tuple[str, str]]:
    """The POSTed parameters as sent (name, value) pairs, read once; their first values kept.

    A form body is read as bytes and parsed like Werkzeug's form parser would (strict UTF-8,
    the same error handler); any other body goes through `request.form`, as before. A body
    sent without Content-Length (chunked) that fills the whole limit is refused (413), not
    parsed in part.
    """
    environ = req.environ
    if is_form(environ):
        pairs = parse_form(_body(req))
    else:
        form = req.form
        pairs = [(name, value) for name, values in form.lists() for value in values]
        _refuse_a_full_chunked_body(req)
    environ[PARAMS] = first_values(pairs)
    return pairs


def _body(req: Request) -> bytes:
    """The request's body (the gate has refused one longer than the limit).

    With a Content-Length, `take_body`; without (chunked), Werkzeug's stream, which stops at
    the limit.
    """
    length = req.content_length
    if length is None:
        body = req.get_data(cache=True)
        _refuse_a_full_chunked_body(req)
        return body
    return take_body(req.environ, length)


def is_form(environ: dict[str, Any]) -> bool:
    """Whether the body is a URL-encoded form (what Twilio posts), whatever its charset."""
    content_type: str = environ.get("CONTENT_TYPE", "")
    return content_type.partition(";")[0].strip().lower() == FORM


def take_body(environ: dict[str, Any], length: int) -> bytes:
    """`length` bytes of body, read straight from the server's input, then put back.

    Werkzeug's checked stream costs more than the read itself; put back as a fresh stream,
    `request.form` or `get_data` still find it. A body shorter than announced is a client
    gone, as Werkzeug says it.
    """
    body = environ["wsgi.input"].read(length) if length else b""
    if len(body) < length:
        raise ClientDisconnected()
    environ["wsgi.input"] = io.BytesIO(body)
    return bytes(body)


def parse_form(body: bytes) -> list[tuple[str, str]]:
    """A form body's (name, value) pairs, parsed as Werkzeug's form parser parses them.

    A text with nothing escaped (our own `f=0`) is only split: what `parse_qsl` gives it.
    """
    text = body.decode()
    if "%" in text or "+" in text:
        return parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")
    pairs = []
    for field in text.split("&"):
        if field:
            name, _, value = field.partition("=")
            pairs.append((name, value))
    return pairs


def _refuse_a_full_chunked_body(req: Request) -> None:
    """A body without Content-Length that filled the whole limit is refused (413), unparsed."""
    if req.content_length is None:
        stream = req.stream
        if isinstance(stream, LimitedStream) and stream.is_exhausted:
            raise RequestEntityTooLarge()


def first_values(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Each name's first value, as `MultiDict.get` gives it."""
    params: dict[str, str] = {}
    for name, value in pairs:
        if name not in params:
            params[name] = value
    return params


def signature_matches(token: bytes, url: str, pairs: list[tuple[str, str]], given: str,
                      algorithm: str) -> bool:
    """Twilio's signature: one HMAC of the URL followed by the sorted parameters.

    What `RequestValidator.compute_signature` computes (names sorted, each name's distinct
    values sorted, the URL first), from the pairs as parsed, in one pass.
    """
    values: dict[str, set[str]] = {}
    for name, value in pairs:
        values.setdefault(name, set()).add(value)
    signed = url + "".join(name + value for name in sorted(values)
                           for value in sorted(values[name]))
    mac = hmac.new(token, signed.encode("utf-8"), _HASHES[algorithm.upper()])
    return bool(compare(base64.b64encode(mac.digest()).decode("ascii"), given))


def twilio_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Answer 403 to any request that Twilio did not sign (the gate's verdict, not recomputed)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        """Check the signature, then run the view."""
        if not is_signed():
            abort(403)
        return view(*args, **kwargs)

    return wrapped
