"""Safe, stable file names for entity names, and Markdown/mermaid escaping.

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

# Python-Markdown's escapable characters plus the table pipe.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~])")


@lru_cache(maxsize=65536)
def slug(name: str) -> str:
    """A file-name-safe slug, unique per exact name and the same on every run."""
    if _CLEAN.fullmatch(name) and len(name) <= MAX_SLUG and ".." not in name:
        return name
    ascii_part = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    base = _NOT_SLUG.sub("-", ascii_part.lower()).strip("-")[:MAX_SLUG].strip("-")
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{base}-{digest}" if base else digest


def md(text: object) -> str:
    """Text shown literally in Markdown: no emphasis, links, headings or HTML."""
    if text is None:
        return ""
    return _md(text if type(text) is str else str(text))


# A site repeats the same short names thousands of times (people, datasets, metric names).
@lru_cache(maxsize=65536)
def _md(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text.replace("&", "&amp;").replace("<", "&lt;"))


def cell(text: object) -> str:
    """Escaped text for one table cell: also no line breaks."""
    if text is None:
        return ""
    return _cell(text if type(text) is str else str(text))


@lru_cache(maxsize=65536)
def _cell(text: str) -> str:
    return " ".join(_md(text).splitlines())


def block(text: object) -> str:
    """Escaped multi-line text that keeps its line breaks (notes, datasheet sections)."""
    lines = [md(line) for line in str(text or "").splitlines()]
    return "  \n".join(lines)


_MERMAID_ID = re.compile(r"[^A-Za-z0-9_]")


def mermaid_id(prefix: str, index: int) -> str:
    """Mermaid ids cannot hold most punctuation; ids are positional, labels carry names."""
    return f"{_MERMAID_ID.sub('_', prefix)}{index}"


def mermaid_label(text: str) -> str:
    """A double-quoted mermaid label with its specials as mermaid entity codes."""
    out = (str(text).replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;")
           .replace(">", "#gt;").replace("`", "#96;").replace("\n", " "))
    return f'"{out}"'
