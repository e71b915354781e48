"""The menus a worker serves: loaded at start, reloaded when their files change.

Each worker looks at the menu and prompt files' sizes and times at most every
IVR_RELOAD_SECONDS (2 s) as requests arrive, and reloads when anything changed. A version
that fails validation is not loaded: the last good one keeps serving and the problems are
logged, once per change. Nothing is shared between workers: every worker (every machine)
reads the same files.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import click
from flask import Flask, current_app, request

from ivr.core.lines import Directory
from ivr.core.loader import MenuError, load_directory

log = logging.getLogger("ivr.menus")
Fingerprint = tuple[tuple[str, int, int], ...]
FALLBACK = "voice.fallback"  # the endpoint that must answer without touching a file


@dataclass
class MenuSource:
    """Where the menus come from, and what was last seen there."""

    menu_dir: Path
    prompt_dir: Path
    default_line: str | None
    every: float
    seen: Fingerprint = ()
    next_look: float = field(default=0.0)


def init_app(app: Flask) -> None:
    """Load the menus; a broken menu stops the start (but not a `flask` admin command)."""
    source = MenuSource(Path(app.config["IVR_MENU_DIR"]), Path(app.config["IVR_PROMPT_DIR"]),
                        app.config["IVR_DEFAULT_LINE"], float(app.config["IVR_RELOAD_SECONDS"]))
    source.seen = fingerprint(source)
    source.next_look = app.config.get("MONOTONIC", time.monotonic)() + source.every
    app.extensions["ivr.menu_error"] = None
    try:
        app.extensions["ivr.lines"] = load(source)
    except MenuError as e:
        if click.get_current_context(silent=True) is None:
            raise  # serving: refuse to start rather than serve half a menu
        # An admin command: those that need the menus say what is wrong (require_menus);
        # the others (cases, overrides list, db) still work.
        app.extensions["ivr.menu_error"] = e
        app.extensions["ivr.lines"] = Directory({}, {}, None)
    app.extensions["ivr.menu_source"] = source
    app.extensions["ivr.render_cache"] = {}
    if source.every > 0:
        app.before_request(_maybe_reload)


def get_lines() -> Directory:
    """The lines this worker serves (the last menus that loaded without an error)."""
    lines: Directory = current_app.extensions["ivr.lines"]
    return lines


def require_menus(app: Flask) -> None:
    """Stop an admin command that needs the menus when they did not load, saying where."""
    error: MenuError | None = app.extensions.get("ivr.menu_error")
    if error is not None:
        raise click.ClickException(f"the menus did not load, so the lines are unknown until "
                                   f"this is fixed (`flask ivr validate` checks it):\n{error}")


def load(source: MenuSource) -> Directory:
    """Load and validate every menu file."""
    return load_directory(source.menu_dir, source.prompt_dir, source.default_line)


def fingerprint(source: MenuSource) -> Fingerprint:
    """Name, size and modification time of every menu file, prompt and recording."""
    files = [*source.menu_dir.glob("*.yaml"), *source.prompt_dir.rglob("*")]
    out = []
    for path in sorted(files):
        try:
            stat = path.stat()
        except OSError:
            continue
        out.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(out)


def _maybe_reload() -> None:
    """Every few seconds, reload the menus if their files changed."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # one look-up
    now = due_a_look(app)
    if now is None:
        return
    if request.endpoint == FALLBACK:
        return  # the fallback answers from memory: not even a look at the files
    source: MenuSource = app.extensions["ivr.menu_source"]
    source.next_look = now + source.every
    reload_if_changed(app)


def due_a_look(app: Flask) -> float | None:
    """The monotonic time now if the menu files are due a look (reload on), else None."""
    source: MenuSource = app.extensions["ivr.menu_source"]
    if source.every <= 0:
        return None
    now: float = app.config.get("MONOTONIC", time.monotonic)()
    return now if now >= source.next_look else None


def reload_if_changed(app: Flask) -> bool:
    """Reload when the files changed since last seen; keep the old menus if the new fail."""
    source: MenuSource = app.extensions["ivr.menu_source"]
    seen = fingerprint(source)
    if seen == source.seen:
        return False
    source.seen = seen
    try:
        lines = load(source)
    except MenuError as e:
        log.error("menu change refused, the previous menus keep serving:\n%s", e)
        return False
    except (OSError, ValueError) as e:  # a file the loader could not even read: same rule
        log.error("menu change refused (%s: %s), the previous menus keep serving",
                  type(e).__name__, e)
        return False
    app.extensions["ivr.lines"] = lines
    app.extensions["ivr.render_cache"] = {}
    log.warning("menus reloaded: %s", ", ".join(sorted(lines.lines)))
    return True
