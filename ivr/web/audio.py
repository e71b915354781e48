"""Recorded prompts, served to Twilio's <Play> from `voice_prompts/<language>/audio/`."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, send_from_directory

bp = Blueprint("audio", __name__, url_prefix="/audio")
_LANGUAGE = re.compile(r"^[a-z]{2}$")


@bp.get("/<language>/<filename>")
def prompt(language: str, filename: str) -> Response:
    """Send one recording (public content: Twilio fetches it without a signature)."""
    if not _LANGUAGE.match(language):
        abort(404)
    folder = Path(current_app.config["IVR_PROMPT_DIR"]) / language / "audio"
    return send_from_directory(folder, filename, max_age=3600)
