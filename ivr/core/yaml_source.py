"""YAML menu files read safely, with the line of every key kept for error messages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]
# LibYAML's parser where PyYAML was built with it (the Linux wheels are), else pure Python.
_FastLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Source:
    """A parsed YAML document and the 1-based line where each key path starts."""

    file: str
    data: Any
    lines: dict[Path_, int]

    def line_of(self, path: Path_) -> int:
        """Return the line of `path`, or of its closest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return 1


class SourceError(ValueError):
    """A YAML file that cannot be read: bad syntax or a key written twice."""

    def __init__(self, file: str, line: int, message: str) -> None:
        """Keep where the problem is, and say it as `file:line: message`."""
        super().__init__(f"{file}:{line}: {message}")
        self.file, self.line, self.message = file, line, message


def load_source(path: Path) -> Source:
    """Read `path` with `yaml.safe_load` semantics, refusing duplicate keys."""
    return parse_source(read_utf8(path), str(path))


def read_utf8(path: Path) -> str:
    """The text of `path`; a file that is not UTF-8 is a SourceError at its first bad byte."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise SourceError(str(path), line, f"not UTF-8: byte 0x{data[e.start]:02x} at column "
                          f"{column} (saved as Latin-1 or Windows-1252? or not text at all); save "
                          "it as UTF-8") from None


def parse_source(text: str, file: str) -> Source:
    """Parse YAML `text`; `file` names it in errors."""
    try:
        root, data = _parse(text, _FastLoader)
    except yaml.YAMLError:
        try:  # the pure-Python parser words its errors better: ask it what is wrong
            root, data = _parse(text, yaml.SafeLoader)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line = mark.line + 1 if mark else 1
            raise SourceError(file, line, f"not valid YAML: {e.problem or e}") from e
        except yaml.reader.ReaderError as e:  # a control character: a binary file, say
            line = text.count("\n", 0, max(e.position, 0)) + 1
            raise SourceError(file, line, f"not a text file: character {e.character!r} "
                              "cannot be in YAML") from e
    lines: dict[Path_, int] = {}
    if root is not None:
        _index(root, (), lines, file)
    return Source(file, data, lines)


def _parse(text: str, loader_class: type) -> tuple[yaml.Node | None, Any]:
    """One parse: the node tree (for each key's line) and the data built from it.

    The data is built from that same tree exactly as yaml.safe_load would build it.
    """
    loader = loader_class(text)
    try:
        root = loader.get_single_node()
        return root, loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()


def _index(node: yaml.Node, path: Path_, lines: dict[Path_, int], file: str) -> None:
    """Record the line of every key below `node`, and refuse a key written twice."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise SourceError(
                    file, line, f"key {key!r} is written twice (first at line {seen[key]}); "
                    "keep one"
                )
            seen[key] = line
            lines[(*path, key)] = line
            _index(value_node, (*path, key), lines, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), lines, file)
