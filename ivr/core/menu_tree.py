"""A line's menu tree as written in its file: where each node leads, and the prompts it names.

The loader (reachability, loops, menu parents), the diagrams and the warnings all walk the
tree the same way, so the walk and the rules it follows live here once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from ivr.core.menu_file import LineFile, Link, MenuNode, NodeBase
from ivr.core.yaml_source import Path_

PROMPT_KEYS = ("prompt", "wait_prompt", "closed_prompt", "record_prompt", "screen")
"""The keys of a node that name a prompt (each node type has some of them)."""


@dataclass(frozen=True)
class Reached:
    """A node met by `walk`, with the node and link that first led to it (None for a start)."""

    node_id: str
    parent: str | None
    link: Link | None


def node_links(spec: LineFile, node: NodeBase) -> list[Link]:
    """Return a node's links; a menu without its own fallback inherits the line's, last."""
    links: list[Link] = node.links()
    if isinstance(node, MenuNode) and not node.fallback and spec.fallback:
        links.append(Link(("fallback",), spec.fallback, True))
    return links


def walk(
    spec: LineFile, starts: Iterable[str], follow: Callable[[Link], bool] = lambda link: True
) -> Iterator[Reached]:
    """Yield each node reachable from `starts` once, breadth-first, following links in order.

    Only links `follow` accepts are taken. A link to a node the file lacks is yielded too (it
    leads nowhere further): the loader reports such links itself.
    """
    seen: set[str] = set()
    todo: deque[Reached] = deque()
    for start in starts:
        if start not in seen:
            seen.add(start)
            todo.append(Reached(start, None, None))
    while todo:
        reached = todo.popleft()
        yield reached
        node = spec.nodes.get(reached.node_id)
        for link in node_links(spec, node) if node is not None else []:
            if link.target not in seen and follow(link):
                seen.add(link.target)
                todo.append(Reached(link.target, reached.node_id, link))


def prompt_refs(spec: LineFile) -> Iterator[tuple[Path_, str]]:
    """Yield every prompt id the file names, with the path of the key that names it."""
    if spec.welcome:
        yield ("welcome",), spec.welcome
    for node_id, node in spec.nodes.items():
        for key in PROMPT_KEYS:
            value = getattr(node, key, None)
            if value:
                yield ("nodes", node_id, key), value
