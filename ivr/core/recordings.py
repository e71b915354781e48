"""Which recording URLs are Twilio's own: only those are stored and shown to admins."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# What Twilio posts as RecordingUrl after <Record>: its REST API's address of the recording,
# https://api.twilio.com/2010-04-01/Accounts/AC.../Recordings/RE... (a regional API host such
# as api.dublin.ie1.twilio.com for accounts outside the US; a media suffix may be added).
_PATH = re.compile(r"/2010-04-01/Accounts/AC[0-9a-fA-F]{32}/Recordings/RE[0-9a-fA-F]{32}"
                   r"(?:\.(?:mp3|wav|json))?")
_HOST = re.compile(r"(?:[a-z0-9-]+\.)*twilio\.com")


def is_twilio_recording(url: str | None) -> bool:
    """Whether `url` is the address of a recording on Twilio's API.

    That is https, a twilio.com host and the path of a recording: not somewhere a request
    merely says."""
    if not url:
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    return (parts.scheme == "https" and port in (None, 443) and not parts.username
            and not parts.password and not parts.query and not parts.fragment
            and _HOST.fullmatch(host) is not None and _PATH.fullmatch(parts.path) is not None)
