"""What the caller hears: prompt texts and recordings from `voice_prompts/<language>/`."""

from __future__ import annotations

import string
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from ivr.core.yaml_source import read_utf8

AUDIO_SUFFIXES = (".mp3", ".wav")
# What the service fills in: a misspelt name would fail on the phone, so it fails at load.
PLACEHOLDERS = frozenset({"hours", "holiday", "line", "number", "key", "level", "position",
                          "minutes", "label", "day", "when", "severity", "attempts"})


@dataclass(frozen=True)
class Prompt:
    """One thing to say: its text, and the recording to play instead where one exists."""

    id: str
    text: str
    audio: str | None = None

    def format(self, **values: str) -> Prompt:
        """Fill `{name}` placeholders of the text (a recording is kept only if nothing changed)."""
        text = self.text.format_map(values)
        return replace(self, text=text, audio=self.audio if text == self.text else None)


def load_catalog(root: Path, language: str) -> dict[str, Prompt]:
    """Read every `*.yaml` of `root/language` into prompts, with recordings from `audio/`."""
    folder = root / language
    if not folder.is_dir():
        raise ValueError(f"no prompts for language {language!r}: {str(folder)!r} is missing")
    texts: dict[str, tuple[str, Path]] = {}
    for path in sorted(folder.glob("*.yaml")):
        if path.name == "hours.yaml":
            continue
        data = _yaml(path)
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of prompt id to text")
        for key, text in data.items():
            if key in texts:
                raise ValueError(f"{path}: prompt {key!r} is also defined in {texts[key][1]}")
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"{path}: prompt {key!r} must be a non-empty text")
            _check_placeholders(path, str(key), text)
            texts[str(key)] = (" ".join(text.split()), path)
    audio = _recordings(folder / "audio")
    return {key: Prompt(key, text, audio.get(key)) for key, (text, _) in texts.items()}


def _yaml(path: Path) -> object:
    """A prompt file's data; not UTF-8 or not YAML is a ValueError naming the file and line."""
    text = read_utf8(path)
    try:
        return yaml.safe_load(text) or {}
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise ValueError(f"{path}:{mark.line + 1 if mark else 1}: not valid YAML: "
                         f"{e.problem or e}") from e
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML: {e}") from e


def _check_placeholders(path: Path, key: str, text: str) -> None:
    """Refuse `{names}` the service does not fill in, and unbalanced braces."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as e:
        raise ValueError(f"{path}: prompt {key!r} has a stray brace ({e}); write {{{{ or }}}} "
                         "for a brace that is said") from e
    unknown = sorted(names - PLACEHOLDERS)
    if unknown:
        raise ValueError(f"{path}: prompt {key!r} uses {{{unknown[0]}}}, which nothing fills "
                         f"in; use one of {', '.join('{' + p + '}' for p in sorted(PLACEHOLDERS))}")


def _recordings(folder: Path) -> dict[str, str]:
    """Map prompt ids to the file names of their recordings in `folder`."""
    if not folder.is_dir():
        return {}
    return {p.stem: p.name for p in sorted(folder.iterdir()) if p.suffix in AUDIO_SUFFIXES}


def spell_digits(number: str) -> str:
    """Write a number so that it is read digit by digit, with a short pause between digits."""
    return ", ".join(ch for ch in number if ch.isdigit())
