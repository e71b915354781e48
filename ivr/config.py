"""Settings: defaults, overridden by the environment, overridden by `create_app(config)`."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent


def system_clock() -> datetime:
    """The current time, from the system clock (tests inject their own clock)."""
    return datetime.now(UTC)


def from_environment(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Read the service's settings from environment variables."""
    env = os.environ if environ is None else environ
    return {
        "TWILIO_AUTH_TOKEN": env.get("TWILIO_AUTH_TOKEN", ""),
        "IVR_SIGNATURE_CHECK": env.get("IVR_SIGNATURE_CHECK", "on").strip().lower() != "off",
        "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL", "").rstrip("/"),
        "TRUSTED_PROXIES": int(env.get("TRUSTED_PROXIES", "0") or 0),
        "IVR_MENU_DIR": env.get("IVR_MENU_DIR", str(PACKAGE_DIR / "menus")),
        "IVR_PROMPT_DIR": env.get("IVR_PROMPT_DIR", str(PACKAGE_DIR.parent / "voice_prompts")),
        "IVR_DEFAULT_LINE": env.get("IVR_DEFAULT_LINE") or None,
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO"),
        "DATABASE_URL": env.get("DATABASE_URL") or None,
        "IVR_MIGRATE": env.get("IVR_MIGRATE", "on").strip().lower() != "off",
        "IVR_RELOAD_SECONDS": float(env.get("IVR_RELOAD_SECONDS", "2") or 2),
        "IVR_DB_POOL_SIZE": max(1, int(env.get("IVR_DB_POOL_SIZE", "3") or 3)),
        "IVR_DB_RETRY_SECONDS": float(env.get("IVR_DB_RETRY_SECONDS", "5") or 5),
        "IVR_OVERRIDE_TTL": float(env.get("IVR_OVERRIDE_TTL", "2") or 2),
        "IVR_FAST_LANE": env.get("IVR_FAST_LANE", "on").strip().lower() != "off",
        "IVR_MAX_BODY_BYTES": int(env.get("IVR_MAX_BODY_BYTES", "65536") or 65536),
        "IVR_EVENT_FLUSH_SECONDS": float(env.get("IVR_EVENT_FLUSH_SECONDS", "1") or 0),
        # the look-up notes' (read seconds after by a queued call's callback): 1 s at most
        "IVR_NOTE_FLUSH_SECONDS": min(1.0, float(env.get("IVR_EVENT_FLUSH_SECONDS", "1") or 0)),
        "IVR_LOG_FLUSH_SECONDS": min(1.0, float(env.get("IVR_LOG_FLUSH_SECONDS", "1") or 0)),
        "SECRET_KEY": env.get("SECRET_KEY") or None,
        "TWILIO_ACCOUNT_SID": env.get("TWILIO_ACCOUNT_SID", ""),
        "TWILIO_API_BASE_URL": env.get("TWILIO_API_BASE_URL", "").rstrip("/"),
        "CONSOLE_SECURE_COOKIES": env.get("CONSOLE_SECURE_COOKIES", "on").strip().lower()
        != "off",
        "CONSOLE_LOGIN_LIMIT": int(env.get("CONSOLE_LOGIN_LIMIT", "5") or 5),
    }

