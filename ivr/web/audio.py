"""Recorded prompts, served to Twilio's <Play> from `voice_prompts/<language>/audio/`."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, send_from_directory

from ivr.web.live_menus import get_lines

bp = Blueprint("audio", __name__, url_prefix="/audio")
# A recording: a name that does not start with a dot, and an audio file's extension.
_RECORDING = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\.(?:mp3|wav)")


@bp.get("/<language>/<filename>")
def prompt(language: str, filename: str) -> Response:
    """Send one recording (public content: Twilio fetches it without a signature)."""
    if not _RECORDING.fullmatch(filename) or language not in _languages():
        abort(404)
    folder = Path(current_app.config["IVR_PROMPT_DIR"]) / language / "audio"
    return send_from_directory(folder, filename, max_age=3600)


def _languages() -> set[str]:
    """The languages of the loaded lines: the only folders recordings are served from."""
    return {line.spec.language for line in get_lines().lines.values()}
