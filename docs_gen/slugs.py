"""Safe, stable file names for entity names, and mermaid node ids.

A name that is already a clean slug keeps it (``churn`` -> ``churn``); any other name
gets a readable ASCII part plus a short hash of the exact name, so ``Team/Vision``,
``team vision`` and ``team-vision`` never share a page.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_CLEAN = re.compile(r"[a-z0-9]+(?:[-.][a-z0-9]+)*")
MAX_SLUG = 80


@lru_cache(maxsize=65536)
def slug(name: str) -> str:
    """A file-name-safe slug, unique per exact name and the same on every run."""
    if _CLEAN.fullmatch(name) and len(name) <= MAX_SLUG and ".." not in name:
        return name
    ascii_part = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    base = _NOT_SLUG.sub("-", ascii_part.lower()).strip("-")[:MAX_SLUG].strip("-")
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{base}-{digest}" if base else digest


_MERMAID_ID = re.compile(r"[^A-Za-z0-9_]")


def mermaid_id(prefix: str, index: int) -> str:
    """Mermaid ids cannot hold most punctuation; ids are positional, labels carry names."""
    return f"{_MERMAID_ID.sub('_', prefix)}{index}"


def version_anchor(version: str) -> str:
    """The id of a model version's section on its card (``#version-3``), the same for
    every page that links to it."""
    return f"version-{slug(version)}"
