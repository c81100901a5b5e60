"""The mkdocs build, full or partial, through mkdocs' public API: ``load_config``, ``build``
and a plugin of our own (``SitePlugin``).

A full build is mkdocs' strict ``build``. A partial build is mkdocs' dirty build
(``build(config, dirty=True)``: only pages whose output is older than their Markdown are
converted), made to equal a full build by the plugin:

- the outputs of the pages a sync rewrote, and of pages that list every page's tags, are
  removed first, so mkdocs converts exactly those (and any page it has no output for);
- every other page's Markdown that may hold tags is still read, so the tags plugin lists
  all tags; each entity page carries its title in its front matter, so its entry reads
  as in a full build;
- the search index mkdocs writes holds the converted pages only: their entries replace
  theirs in the previous index, in page order, as a full build writes them;
- strict mode still fails the build on any warning but the one notice that a dirty build
  is being performed. Anchors inside pages that were not converted go unchecked until the
  next full build.

What a partial build cannot follow (no record of the last build, another config, theme or
version, pages that vanished, plugins it does not know) is built in full.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from importlib.metadata import version
from pathlib import Path
from typing import Any

from jinja2 import FileSystemBytecodeCache
from mkdocs.plugins import BasePlugin, event_priority

log = logging.getLogger(__name__)

#: What the last build recorded, in its output folder (mkdocs cleans it on a full build).
RECORD = ".kb-build.json"
#: Compiled theme templates, in a dot folder of the generated docs (mkdocs skips it).
GENERATED_CACHE = Path("docs/generated/.kb-jinja")
#: Plugins whose events the partial build is known to honour.
KNOWN_PLUGINS = {"material/search", "material/tags", "search", "tags"}
#: A page holding this renders a listing of every page's tags.
LISTING_MARK = "<!-- material/tags"
SEARCH_INDEX = Path("search/search_index.json")
#: The logger of mkdocs' build command, which announces a dirty build as a warning.
BUILD_LOGGER = "mkdocs.commands.build"


def fingerprint(site_dir: Path) -> str:
    """What every page's HTML depends on besides its own Markdown: config, theme, versions."""
    digest = hashlib.sha256()
    for name in ("mkdocs", "mkdocs-material", "pymdown-extensions", "Markdown"):
        digest.update(f"{name}={version(name)}\n".encode())
    paths = [site_dir / "mkdocs.yml", *sorted((site_dir / "overrides").rglob("*"))]
    for path in paths:
        if path.is_file():
            digest.update(str(path.relative_to(site_dir)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _load_config(site_dir: Path, out_dir: Path | None) -> Any:
    from mkdocs.config import load_config

    overrides = {"site_dir": str(out_dir.resolve())} if out_dir else {}
    return load_config(config_file=str(site_dir / "mkdocs.yml"), strict=True, **overrides)


class SitePlugin(BasePlugin):
    """kb's part of every build: a cache for compiled theme templates and the record of the
    build; in a partial build also what makes it equal a full one (see the module)."""

    def __init__(self, site_dir: Path, *, changed: set[str] | None = None,
                 previous_index: str | None = None) -> None:
        super().__init__()
        self.fingerprint = fingerprint(site_dir)
        self.cache = site_dir / GENERATED_CACHE
        self.changed = changed  # None: a full build
        self.previous_index = previous_index
        self.gathering = False  # mkdocs has begun gathering the files
        self.pages: list[Any] = []  # documentation files, in mkdocs' order
        self.converted: set[str] = set()  # urls of the pages converted in this build

    def quiet_start(self, record: logging.LogRecord) -> bool:
        """A logging filter: drops mkdocs' warning that a dirty build is being performed,
        the one warning the build logs before it gathers the files."""
        return self.gathering or record.levelno < logging.WARNING

    def on_files(self, files: Any, *, config: Any) -> Any:
        self.gathering = True
        if self.changed is None:
            return files
        for file in files.documentation_pages():
            if file.src_uri in self.changed or LISTING_MARK in file.content_string:
                Path(file.abs_dest_path).unlink(missing_ok=True)
        return files

    def on_nav(self, nav: Any, *, config: Any, files: Any) -> Any:
        from mkdocs.structure.files import InclusionLevel
        from mkdocs.structure.pages import Page

        self.pages = list(files.documentation_pages(inclusion=InclusionLevel.is_included))
        if self.changed is None:
            return nav
        # a dirty build reads only the pages it converts; the tags plugin needs them all,
        # in page order as a full build reads them (it lists tied titles in that order)
        for file in self.pages:
            if file.page is None:
                Page(None, file, config)
            if LISTING_MARK in file.content_string:
                continue  # converted, hence read, by mkdocs
            if not _may_have_tags(file.content_string):
                continue  # nothing for the tags plugin (most run pages), so not read
            page = config.plugins.on_pre_page(file.page, config=config, files=files)
            page.read_source(config)
            page.markdown = config.plugins.on_page_markdown(page.markdown, page=page,
                                                            config=config, files=files)
        return nav

    @event_priority(200)  # before any plugin renders with the environment
    def on_env(self, env: Any, *, config: Any, files: Any) -> Any:
        """Keep the theme's compiled templates between builds (a large part of a one-page
        rebuild); the cache is keyed by each template's source."""
        self.cache.mkdir(parents=True, exist_ok=True)
        env.bytecode_cache = FileSystemBytecodeCache(str(self.cache))
        return env

    def on_page_context(self, context: Any, *, page: Any, **_: Any) -> Any:
        self.converted.add(page.url)
        return context

    @event_priority(-100)  # after the search plugin wrote its index
    def on_post_build(self, *, config: Any) -> None:
        site = Path(config.site_dir)
        if self.changed is not None and self.previous_index is not None:
            _merge_search_index(site / SEARCH_INDEX, self.previous_index,
                                [file.page.url for file in self.pages], self.converted)
        data = {"fingerprint": self.fingerprint,
                "pages": sorted(file.src_uri for file in self.pages)}
        (site / RECORD).write_text(json.dumps(data, indent=0) + "\n")


def _may_have_tags(content: str) -> bool:
    """False only for a page that surely has no tags: a heading first, or YAML front
    matter that does not mention them (anything else is read, to be safe)."""
    if content.startswith("#"):
        return False
    if not content.startswith("---"):
        return True
    end = content.find("\n---", 3)
    return "tags" in (content[:end] if end >= 0 else content)


def _run(cfg: Any, plugin: SitePlugin, *, dirty: bool) -> None:
    """mkdocs' build with ``plugin``, its startup and shutdown events as ``mkdocs build``
    sends them; a dirty build without its warning that it is one (strict mode would fail
    on it)."""
    from mkdocs.commands.build import build

    cfg.plugins["kb/site"] = plugin
    quiet = logging.getLogger(BUILD_LOGGER) if dirty else None
    if quiet is not None:
        quiet.addFilter(plugin.quiet_start)
    cfg.plugins.on_startup(command="build", dirty=dirty)
    try:
        build(cfg, dirty=dirty)
    finally:
        cfg.plugins.on_shutdown()
        if quiet is not None:
            quiet.removeFilter(plugin.quiet_start)


def full(site_dir: Path, out_dir: Path | None = None) -> Path:
    """mkdocs' strict full build; returns the output folder."""
    cfg = _load_config(site_dir, out_dir)
    _run(cfg, SitePlugin(site_dir), dirty=False)
    return Path(cfg.site_dir)


def previous(site_dir: Path, out_dir: Path) -> list[str] | None:
    """The pages the last build recorded, or None when a partial build cannot follow it."""
    path = out_dir / RECORD
    if not (path.is_file() and (out_dir / SEARCH_INDEX).is_file()):
        return None
    try:
        data = json.loads(path.read_text())
    except ValueError:
        return None
    if data.get("fingerprint") != fingerprint(site_dir):
        return None
    return list(data.get("pages") or [])


def partial(site_dir: Path, out_dir: Path | None, changed: set[str]) -> Path | None:
    """Rebuild only ``changed`` (docs-relative paths) and what lists every page.

    Returns the output folder, or None when only a full build is correct: no record of
    the previous build, another config or theme, pages that vanished, unknown plugins.
    """
    from mkdocs.structure.files import InclusionLevel, get_files

    cfg = _load_config(site_dir, out_dir)
    target = Path(cfg.site_dir)
    pages = previous(site_dir, target)
    if pages is None:
        return None
    if not set(cfg.plugins) <= KNOWN_PLUGINS:
        log.info("partial build: unknown plugins %s", sorted(set(cfg.plugins) - KNOWN_PLUGINS))
        return None
    now = {f.src_uri for f in get_files(cfg).documentation_pages(
        inclusion=InclusionLevel.is_included)}
    if set(pages) - now:
        log.info("partial build: pages gone since the last build; building in full")
        return None
    plugin = SitePlugin(site_dir, changed=changed,
                        previous_index=(target / SEARCH_INDEX).read_text())
    try:
        _run(cfg, plugin, dirty=True)
    except BaseException:
        # half-written output: without the record the next sync builds in full
        (target / RECORD).unlink(missing_ok=True)
        raise
    log.info("partial build: %d of %d pages rebuilt", len(plugin.converted), len(plugin.pages))
    return target


def _page_of(location: str) -> str:
    return location.split("#", 1)[0]


def _merge_search_index(path: Path, previous: str, urls: list[str], converted: set[str]
                        ) -> None:
    """Every page's search entries, in page order: the converted pages' from the index
    this build wrote, the others' from the previous one, written as the search plugin
    writes its index."""
    new = json.loads(path.read_text())
    by_page: dict[bool, dict[str, list[Any]]] = {True: defaultdict(list),
                                                  False: defaultdict(list)}
    for entry in new["docs"]:
        by_page[True][_page_of(entry["location"])].append(entry)
    for entry in json.loads(previous)["docs"]:
        by_page[False][_page_of(entry["location"])].append(entry)
    new["docs"] = [entry for url in urls for entry in by_page[url in converted].get(url, [])]
    path.write_text(json.dumps(new, separators=(",", ":"), default=str), encoding="utf-8")
