"""The mkdocs build: full, or only the pages a sync re-rendered.

A full build is mkdocs' own ``build``. The partial build walks the same steps with mkdocs'
own functions, but converts and writes only the named pages; every other page is read
(front matter and Markdown, cheap) so the tags plugin sees all tags, and takes its title
from the record the previous build left in the output folder. The search index is merged:
the rebuilt pages' entries replace theirs in the previous index, in the order a full build
writes them. Warnings still fail the build (strict); only what a partial build cannot
check (anchors inside pages it did not convert) goes unchecked until the next full build.

mkdocs' ``--dirty`` is not used: it skips unmodified pages entirely, so the tags page and
the search index would hold only the rebuilt pages, and it warns, which strict mode fails.
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
from mkdocs.plugins import BasePlugin

log = logging.getLogger(__name__)

#: What the last build recorded, in its output folder (mkdocs cleans it on a full build).
RECORD = ".kb-build.json"
#: Compiled theme templates, in a dot folder of the generated docs (mkdocs skips it).
GENERATED_CACHE = Path("docs/generated/.kb-jinja")
#: Plugins whose events the partial build is known to honour.
KNOWN_PLUGINS = {"material/search", "material/tags", "search", "tags"}
#: A page holding this renders a listing of every page's tags.
LISTING_MARK = "<!-- material/tags"


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


def _load_config(site_dir: Path, out_dir: Path | None):
    from mkdocs.config import load_config

    overrides = {"site_dir": str(out_dir.resolve())} if out_dir else {}
    return load_config(config_file=str(site_dir / "mkdocs.yml"), strict=True, **overrides)


class _Recorder(BasePlugin):
    """An extra plugin: notes each built page's title, writes the record after the build."""

    def __init__(self, fingerprint: str, titles: dict[str, str] | None = None) -> None:
        super().__init__()
        self.fingerprint = fingerprint
        self.titles: dict[str, str] = dict(titles or {})

    def on_page_context(self, context: Any, *, page: Any, **_: Any) -> Any:
        self.titles[page.file.src_uri] = page.title
        return context

    def on_post_build(self, *, config: Any) -> None:
        data = {"fingerprint": self.fingerprint, "titles": dict(sorted(self.titles.items()))}
        (Path(config.site_dir) / RECORD).write_text(json.dumps(data, indent=0) + "\n")


def _cache_templates(cfg: Any, site_dir: Path) -> None:
    """Keep the theme's compiled templates between builds (a third of a one-page rebuild).

    The cache is keyed by each template's source, so a changed theme compiles again.
    """
    cache = site_dir / GENERATED_CACHE
    cache.mkdir(parents=True, exist_ok=True)
    get_env = cfg.theme.get_env

    def cached_env() -> Any:
        env = get_env()
        env.bytecode_cache = FileSystemBytecodeCache(str(cache))
        return env

    cfg.theme.get_env = cached_env


def _attach(cfg: Any, recorder: _Recorder) -> None:
    cfg.plugins["kb/record"] = recorder


def full(site_dir: Path, out_dir: Path | None = None) -> Path:
    """mkdocs' strict full build; returns the output folder."""
    from mkdocs.commands.build import build

    cfg = _load_config(site_dir, out_dir)
    _cache_templates(cfg, site_dir)
    _attach(cfg, _Recorder(fingerprint(site_dir)))
    cfg.plugins.on_startup(command="build", dirty=False)
    try:
        build(cfg)
    finally:
        cfg.plugins.on_shutdown()
    return Path(cfg.site_dir)


def previous(site_dir: Path, out_dir: Path) -> dict[str, str] | None:
    """The titles the last build recorded, or None when a partial build cannot follow it."""
    path = out_dir / RECORD
    if not (path.is_file() and (out_dir / "search" / "search_index.json").is_file()):
        return None
    try:
        data = json.loads(path.read_text())
    except ValueError:
        return None
    if data.get("fingerprint") != fingerprint(site_dir):
        return None
    return dict(data.get("titles") or {})


def partial(site_dir: Path, out_dir: Path | None, changed: set[str]) -> Path | None:
    """Rebuild only ``changed`` (docs-relative paths) and what lists every page.

    Returns the output folder, or None when only a full build is correct: no record of
    the previous build, another config or theme, pages that vanished, unknown plugins.
    """
    from mkdocs import utils
    from mkdocs.commands.build import (
        _build_extra_template,
        _build_page,
        _build_theme_template,
        _populate_page,
    )
    from mkdocs.exceptions import Abort
    from mkdocs.structure.files import InclusionLevel, get_files, set_exclusions
    from mkdocs.structure.nav import get_navigation
    from mkdocs.structure.pages import Page

    cfg = _load_config(site_dir, out_dir)
    _cache_templates(cfg, site_dir)
    target = Path(cfg.site_dir)
    titles = previous(site_dir, target)
    if titles is None:
        return None
    if not set(cfg.plugins) <= KNOWN_PLUGINS:
        log.info("partial build: unknown plugins %s", sorted(set(cfg.plugins) - KNOWN_PLUGINS))
        return None
    recorder = _Recorder(fingerprint(site_dir), titles)
    _attach(cfg, recorder)
    logger = logging.getLogger("mkdocs")
    counter = utils.CountHandler()
    counter.setLevel(logging.WARNING)
    logger.addHandler(counter)
    cfg.plugins.on_startup(command="build", dirty=False)
    try:
        cfg = cfg.plugins.on_config(cfg)
        cfg.plugins.on_pre_build(config=cfg)
        files = get_files(cfg)
        env = cfg.theme.get_env()
        files.add_files_from_theme(env, cfg)
        files = cfg.plugins.on_files(files, config=cfg)
        set_exclusions(files, cfg)
        nav = get_navigation(files, cfg)
        nav = cfg.plugins.on_nav(nav, config=cfg, files=files)
        docs = files.documentation_pages(inclusion=InclusionLevel.is_included)
        uris = {f.src_uri for f in docs}
        if set(titles) - uris:
            log.info("partial build: pages gone since the last build; building in full")
            return None
        rebuild = {u for u in uris if u in changed or u not in titles}
        for file in docs:
            if file.page is None:
                Page(None, file, cfg)
            page = file.page
            if file.src_uri in rebuild:
                _populate_page(page, cfg, files)
                continue
            if LISTING_MARK in file.content_string:
                rebuild.add(file.src_uri)
                _populate_page(page, cfg, files)
                continue
            _read(page, cfg, files)
            if "title" not in page.meta:
                page._title_from_render = titles[file.src_uri]
        env = cfg.plugins.on_env(env, config=cfg, files=files)
        files.copy_static_files(dirty=True, inclusion=InclusionLevel.is_included)
        for name in cfg.theme.static_templates:
            _build_theme_template(name, env, files, cfg, nav)
        for name in cfg.extra_templates:
            _build_extra_template(name, files, cfg, nav)
        built = [f for f in docs if f.src_uri in rebuild]
        for file in built:
            _build_page(file.page, cfg, docs, nav, env)
        for file in built:
            file.page.validate_anchor_links(files=files,
                                            log_level=cfg.validation.links.anchors)
        _merge_search_index(cfg, target, docs, rebuild)
        cfg.plugins.on_post_build(config=cfg)
        if counts := counter.get_counts():
            msg = ", ".join(f"{v} {k.lower()}s" for k, v in counts)
            raise Abort(f"Aborted with {msg} in strict mode!")
        log.info("partial build: %d of %d pages rebuilt", len(built), len(docs))
    except Exception as exc:
        # half-written output: without the record the next sync builds in full
        (target / RECORD).unlink(missing_ok=True)
        cfg.plugins.on_build_error(error=exc)
        raise
    finally:
        logger.removeHandler(counter)
        cfg.plugins.on_shutdown()
    return target


def _read(page: Any, cfg: Any, files: Any) -> None:
    """The first half of mkdocs' page population: source, meta, markdown events; no HTML."""
    cfg._current_page = page
    try:
        page = cfg.plugins.on_pre_page(page, config=cfg, files=files)
        page.read_source(cfg)
        page.markdown = cfg.plugins.on_page_markdown(page.markdown, page=page, config=cfg,
                                                     files=files)
    finally:
        cfg._current_page = None


def _page_of(location: str) -> str:
    return location.split("#", 1)[0]


def _merge_search_index(cfg: Any, target: Path, docs: Any, rebuild: set[str]) -> None:
    """Give the search plugin every page's entries, in page order, as a full build would."""
    plugin = next((p for p in cfg.plugins.values() if hasattr(p, "search_index")), None)
    if plugin is None or not plugin.config.enabled:
        return
    old: dict[str, list[dict[str, Any]]] = defaultdict(list)
    raw = json.loads((target / "search" / "search_index.json").read_text())
    for entry in raw.get("docs", []):
        old[_page_of(entry["location"])].append(entry)
    new: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in plugin.search_index.entries:
        new[_page_of(entry["location"])].append(entry)
    merged: list[dict[str, Any]] = []
    for file in docs:
        source = new if file.src_uri in rebuild else old
        merged.extend(source.get(file.page.url, []))
    plugin.search_index.entries = merged
