"""Where each page lives in the docs tree and how pages link to each other.

Entity pages stay out of the nav (``site/mkdocs.yml`` lists only the section indexes):
material renders the whole nav into every page, so a thousand-entry nav would make the
build quadratic. Indexes, search and tags lead to them instead.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .slugs import slug

#: Entity kinds with a page of their own, and their folder.
FOLDERS = {"Model": "models", "Dataset": "datasets", "Person": "people", "Team": "teams",
           "Run": "runs", "Experiment": "experiments"}
HOME = "index.md"
PRODUCTION = "production.md"
#: The Recent changes page.
CHANGES = "changes.md"
#: Kinds with a section index. Runs have none: a team logs tens of thousands, and their
#: experiments (leaderboards) and people (what they were working on) lead to them.
INDEXES = {kind: f"{folder}/index.md" for kind, folder in FOLDERS.items() if kind != "Run"}


@dataclass(frozen=True)
class Page:
    """One Markdown page: where it goes, which template renders it and with what."""

    path: str
    template: str
    context: dict[str, Any] = field(hash=False, compare=False)
    kind: str = ""
    key: str | None = None


def entity_path(kind: str, key: str) -> str:
    return f"{FOLDERS[kind]}/{slug(key)}.md"


def relative(from_path: str, to_path: str) -> str:
    """The Markdown link from one page to another, as mkdocs resolves it."""
    return _relative(posixpath.dirname(from_path) or ".", to_path)


@lru_cache(maxsize=65536)
def _relative(from_dir: str, to_path: str) -> str:
    # relpath looks up the working directory on every call; a page links thousands
    return posixpath.relpath(to_path, from_dir)

