"""Lineage as the shell prints it: a tree per direction whose labels are refs
(``dataset:raw@v2``, ``model:churn@3``, ``run:<id>``) that ``kb show`` takes."""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Iterator
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from rich.tree import Tree

from kb.domain.text import natural

from .app import console, inert

# Which way each relationship is followed: for a direction and a type, whether the child is
# the edge's source (True) or its target (False), seen from the parent.
_CHILD_IS_SOURCE = {
    "UPSTREAM": {"PRODUCED": True, "USED": False, "SERVES": False, "VERSION_OF": True,
                 "PART_OF": True},
    "DOWNSTREAM": {"USED": True, "PRODUCED": False, "SERVES": True, "VERSION_OF": True,
                   "PART_OF": True},
}
_SECTION = {"UPSTREAM": "upstream: what it came from",
            "DOWNSTREAM": "downstream: what came of it"}
_PEOPLE = {"TRAINED": "trained by", "DEPLOYED": "deployed by"}


def node_ref(node: Any) -> str:
    """A lineage node as ``kind:key``."""
    from kb.domain import Label
    from kb.domain.keys import LABEL_KIND

    return f"{LABEL_KIND[Label(node.label)]}:{node.key}"


def refs_by_id(answer: Any) -> dict[str, str]:
    return {n.id: node_ref(n) for n in answer.nodes}


def lineage_json(answer: Any) -> dict[str, Any]:
    """The lineage answer with every id a ref."""
    refs = refs_by_id(answer)
    return {"root": refs[answer.root], "direction": answer.direction, "depth": answer.depth,
            "truncated": answer.truncated,
            "nodes": [{"ref": refs[n.id], "kind": n.label, "key": n.key, "name": n.name}
                      for n in answer.nodes],
            "edges": [{"source": refs[e.source], "target": refs[e.target], "type": e.type}
                      for e in answer.edges],
            "truncated_at": [{"ref": refs[c.node], "direction": c.direction, "shown": c.shown,
                              "end_cursor": c.end_cursor} for c in answer.truncated_at]}


def neighbours_command(ref: str, direction: str, cursor: str, as_of: Any = None) -> str:
    """The ``kb lineage`` command that lists a node's neighbours after ``cursor``."""
    way = "--up" if direction == "UPSTREAM" else "--down"
    when = ["--as-of", as_of.isoformat()] if as_of is not None else []
    # Keys are recorded text: quoted, so the line pastes into a shell as one argument each.
    return shlex.join(["kb", "lineage", ref, "--neighbours", way, "--after", cursor, *when])


class _Shape:
    """The answer's edges as children per parent, for one direction, and its people."""

    def __init__(self, answer: Any, direction: str, status: dict[str, str]) -> None:
        self.refs = refs_by_id(answer)
        self.status = status
        self.names = {n.id: n.name for n in answer.nodes}
        self.children: dict[str, list[tuple[str, str]]] = {}
        self.people: dict[str, list[str]] = {}
        rule = _CHILD_IS_SOURCE[direction]
        for e in answer.edges:
            if e.type in _PEOPLE:
                self.people.setdefault(e.target, []).append(
                    f"{_PEOPLE[e.type]} {self.refs[e.source]}")
            elif e.type in rule and not (e.type in ("VERSION_OF", "PART_OF")
                                         and e.target != answer.root):
                parent, child = ((e.target, e.source) if rule[e.type]
                                 else (e.source, e.target))
                self.children.setdefault(parent, []).append((child, e.type))

    def label(self, node: str, via: str | None) -> Text:
        ref = self.refs[node]
        text = Text(inert(ref), style="bold" if via is None else "")
        name = self.names.get(node)
        notes = []
        if name and name != ref.partition(":")[2] and not ref.startswith("deployment:"):
            notes.append(repr(name))
        if ref in self.status:
            notes.append(self.status[ref])
        notes += self.people.get(node, [])
        if notes:
            text.append("  " + inert(", ".join(notes)), style="dim")
        return text


def _grow(shape: _Shape, tree: Tree, node: str, breadth: int, shown: set[str],
          counts: dict[str, int]) -> None:
    # What leads somewhere first, so a cut hides dead ends rather than the path onwards.
    kids = sorted(shape.children.get(node, []),
                  key=lambda c: (c[0] not in shape.children, natural(shape.refs[c[0]])))
    for child, via in kids[:breadth]:
        label = shape.label(child, via)
        if child in shown:
            if shape.children.get(child):
                label.append("  (its lineage is shown above)", style="dim")
            tree.add(label)
            continue
        branch = tree.add(label)
        shown.add(child)
        _grow(shape, branch, child, breadth, shown, counts)
    if len(kids) > breadth:
        counts["cut"] += 1
        tree.add(Text(f"… and {len(kids) - breadth} more", style="yellow"))


def _width(tree: Tree, depth: int = 0) -> int:
    label = tree.label
    own = 4 * depth + (cell_len(label.plain) if isinstance(label, Text) else 0)
    return max([own, *(_width(c, depth + 1) for c in tree.children)])


@contextlib.contextmanager
def _unfolded(width: int) -> Iterator[None]:
    """The console as wide as the widest line, so no ref is folded or cut: a line longer
    than the terminal is left for the terminal to wrap."""
    old = console.width
    console.width = max(old, width)
    try:
        yield
    finally:
        console.width = old


def deployment_status(graph: Any, answer: Any) -> dict[str, str]:
    """``deployment:<id>`` → ``active in production`` or ``retired``, read in one go: a
    retired deployment in a tree must not pass for one that serves."""
    from kb.domain import Label
    from kb.graph.nodes import nodes_by_keys

    keys = [n.key for n in answer.nodes if n.label == Label.DEPLOYMENT.value]
    if not keys:
        return {}
    found = graph.read(nodes_by_keys, Label.DEPLOYMENT, keys)
    return {f"deployment:{k}": (f"active in {p.get('environment')}"
                                if p.get("status") == "ACTIVE" else "retired")
            for k, p in found.items()}


def print_lineage(answer: Any, directions: tuple[str, ...], breadth: int,
                  status: dict[str, str]) -> int:
    """A tree per direction, each from the root; returns how many nodes had children left
    out because of ``breadth``. ``status`` notes each deployment's state."""
    counts = {"cut": 0}
    for direction in directions:
        shape = _Shape(answer, direction, status)
        tree = Tree(shape.label(answer.root, None))
        _grow(shape, tree, answer.root, breadth, {answer.root}, counts)
        console.print(Text(_SECTION[direction], style="bold underline"))
        if not tree.children:
            console.print(Text("  nothing", style="dim"))
            continue
        with _unfolded(_width(tree) + 1):
            console.print(tree, crop=False)
    return counts["cut"]
