"""Spanish transcription: Twilio's real-time <Transcription> events, read into text to keep.

`<Record transcribe="true">` transcribes English only; a `<Start><Transcription
languageCode="es-MX">` around the recording transcribes what the caller says in Spanish and
posts each finished sentence to our callback as a `transcription-content` event.
"""

from __future__ import annotations

import json

MAX_TEXT = 10_000  # longer than two minutes of speech


def final_text(event: str | None, final: str | None, data: str | None) -> str | None:
    """The words of one finished sentence, or None (a partial result, another event, garbage)."""
    if event != "transcription-content" or (final or "").lower() != "true" or not data:
        return None
    try:
        parsed = json.loads(data[:MAX_TEXT * 2])
    except ValueError:
        return None
    text = parsed.get("transcript") if isinstance(parsed, dict) else None
    if not isinstance(text, str):
        return None
    text = " ".join(text.split())[:MAX_TEXT]
    return text or None


def joined(before: str | None, more: str) -> str:
    """The transcription so far with one more sentence."""
    return f"{before} {more}"[:MAX_TEXT] if before else more[:MAX_TEXT]
