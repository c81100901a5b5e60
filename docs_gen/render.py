"""The Jinja2 environment: page model in, Markdown bytes out, the same every time."""

from __future__ import annotations

import logging
import posixpath
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, FileSystemBytecodeCache, PackageLoader
from jinja2.bccache import Bucket

from kb.graph.pages import HISTORY_SHOWN

from . import escape
from .pages import CHANGES, FOLDERS, HOME, INDEXES, PRODUCTION, Page, entity_path, relative
from .slugs import version_anchor

#: libyaml's emitter when PyYAML was built with it, because the pure-Python one is a large
#: part of a model card's render time. Both emit the same text for these plain values.
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

log = logging.getLogger(__name__)


def front_matter(meta: dict[str, Any]) -> str:
    """YAML front matter (valid YAML whatever the names hold), or nothing.

    ``title`` and ``tags`` are the keys the theme shows, and it writes them into the HTML
    unescaped, so they are escaped here; the other keys are data for other tools.
    """
    if not meta:
        return ""
    if "title" in meta or "tags" in meta:
        meta = dict(meta)
        if "title" in meta:
            meta["title"] = escape.title(meta["title"])
        if "tags" in meta:
            meta["tags"] = [escape.tag(t) for t in meta["tags"]]
    text = yaml.dump(meta, Dumper=_DUMPER, sort_keys=True, allow_unicode=True,
                     default_flow_style=False, width=1000)
    return f"---\n{text}---\n\n"


class _Environment(Environment):
    """Jinja's environment, reading ``x.name`` from a dict key first.

    Page models are plain dicts; Jinja tries the attribute first and catches the
    AttributeError, which cost more than the rest of a card's template. A key wins only
    where it exists, and no template reads a dict method, so the output is the same.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


@cache
def environment() -> Environment:
    env = _Environment(
        loader=PackageLoader("docs_gen", "templates"),
        autoescape=False,  # Markdown, escaped field by field with the filters below
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # packaged templates: no stat of each file on every page
    )
    env.filters.update(md=escape.md, cell=escape.cell, block=escape.block, code=escape.code,
                       url=escape.url, note=escape.note, mermaid_label=escape.mermaid_label,
                       digest=escape.digest, literal=escape.literal,
                       data_attribute=escape.data_attribute,
                       mermaid_link=escape.mermaid_link)
    env.globals.update(FOLDERS=FOLDERS, HOME=HOME, PRODUCTION=PRODUCTION, INDEXES=INDEXES,
                       CHANGES=CHANGES, HISTORY_SHOWN=HISTORY_SHOWN,
                       NOT_RECORDED="*Not recorded.*")
    return env


class _BytecodeCache(FileSystemBytecodeCache):
    """Compiled templates on disk; a cache that cannot be written is only a cache miss."""

    def dump_bytecode(self, bucket: Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError as exc:
            log.debug("page templates not cached: %s", exc)


def keep_compiled(folder: Path) -> None:
    """Keep the compiled page templates in ``folder``, so a fresh ``kb docs sync`` process
    does not compile them all again (about a second). Keyed by each template's source."""
    folder.mkdir(parents=True, exist_ok=True)
    environment().bytecode_cache = _BytecodeCache(str(folder))


@lru_cache(maxsize=65536)
def _link(folder: str, kind: str, key: str, text: str | None) -> str:
    """A Markdown link from a page in ``folder`` to an entity's page; pages in one folder
    link the same few entities many times."""
    target = posixpath.relpath(entity_path(kind, key), folder)
    return f"[{escape.md(text if text is not None else key)}]({target})"


@lru_cache(maxsize=65536)
def _version_link(folder: str, model: str, version: str, text: str | None) -> str:
    target = posixpath.relpath(entity_path("Model", model), folder)
    label = text if text is not None else f"{model}@{version}"
    return f"[{escape.md(label)}]({target}#{version_anchor(version)})"


def _built(path: str) -> str:
    """A page's folder in the built site (``models/churn.md`` -> ``models/churn``), as
    mkdocs lays it out with ``use_directory_urls``."""
    stem = path[:-3] if path.endswith(".md") else path
    return "." if stem == "index" else stem.removesuffix("/index")


def site_href(page_path: str, target: str) -> str:
    """The URL of ``target`` (a page path, or ``#anchor`` on this page) from the built
    page of ``page_path``: for links Markdown does not rewrite (diagrams)."""
    if target.startswith("#"):
        return target
    return posixpath.relpath(_built(target), _built(page_path)) + "/"


def render(page: Page) -> str:
    """The page's Markdown; links are relative to the page so strict mkdocs checks them."""
    path = page.path
    folder = posixpath.dirname(path) or "."

    def link(kind: str, key: str, text: str | None = None) -> str:
        return _link(folder, kind, key, text)

    def to(target: str) -> str:
        return relative(path, target)

    def version_link(model: str, version: str, text: str | None = None) -> str:
        """A link to a model version's section on its card."""
        return _version_link(folder, model, version, text)

    def href(target: str) -> str:
        return site_href(path, target)

    template = environment().get_template(page.template)
    body = template.render(page.context, link=link, to=to, version_link=version_link,
                           href=href)
    meta = page.context.get("front_matter") or {}
    return front_matter(meta) + body.rstrip("\n") + "\n"
