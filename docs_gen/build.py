"""Write the pages and run the strict mkdocs build; ``sync_site`` does only what changed."""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from kb.domain.changes import Op
from kb.errors import KbError
from kb.graph import Graph
from kb.graph import erase as erasures
from kb.graph import pages as reads

from . import incremental, stamp, vendor
from .collect import iter_pages
from .pages import FOLDERS, Page, entity_path
from .render import keep_compiled, render
from .sync import State, affected

log = logging.getLogger(__name__)

GENERATED = Path("docs/generated")
#: Compiled page templates, in a dot folder of the generated docs (mkdocs skips it).
PAGE_TEMPLATE_CACHE = GENERATED / ".kb-pages-jinja"
HAND_WRITTEN = Path("docs")


class BuildFailed(KbError):
    """Raised by ``run_mkdocs`` when the strict build finds a warning (a broken link...)."""

    code = "BUILD_FAILED"


@dataclass
class BuildResult:
    site_dir: Path
    out_dir: Path
    rendered: int = 0
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    built: str = "none"  # "full", "partial" or "none"
    render_seconds: float = 0.0
    render_cpu_seconds: float = 0.0  # this process, reader threads included
    mkdocs_seconds: float = 0.0
    watermark: datetime | None = None
    generated: datetime | None = None  # when the footer's stamp was written

    @property
    def index_html(self) -> Path:
        return self.out_dir / "index.html"


def docs_dir(site_dir: Path) -> Path:
    return site_dir / GENERATED


def write_pages(pages: Iterable[Page], target: Path) -> tuple[list[str], list[str]]:
    """Render each page and write it only if its bytes changed.

    Returns every page's path and the paths written, both sorted. ``pages`` may be a
    generator: each page is rendered and written as it arrives, while later reads run.
    """
    paths, written = [], []
    for page in pages:
        paths.append(page.path)
        data = render(page).encode()
        path = target / page.path
        try:
            if path.read_bytes() == data:
                continue
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(page.path)
    return sorted(paths), sorted(written)


def copy_hand_written(site_dir: Path) -> list[str]:
    """Copy ``site/docs/*.md`` into the generated tree (only when they differ)."""
    target = docs_dir(site_dir)
    written = []
    for src in sorted((site_dir / HAND_WRITTEN).glob("*.md")):
        dst = target / src.name
        data = src.read_bytes()
        if dst.is_file() and dst.read_bytes() == data:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(data)
        written.append(src.name)
    return written


def run_mkdocs(site_dir: Path, out_dir: Path | None = None, *,
               changed: set[str] | None = None) -> tuple[Path, str]:
    """The strict mkdocs build, in process: the built site's folder and "full"/"partial".

    With ``changed`` (docs-relative paths re-rendered since the last build) only those
    pages and the pages listing every page are rebuilt, when the last build's record
    allows it (see ``incremental``); otherwise, and always without ``changed``, in full.
    """
    from mkdocs import exceptions

    try:
        if changed is not None:
            done = incremental.partial(site_dir, out_dir, changed)
            if done is not None:
                return done, "partial"
        return incremental.full(site_dir, out_dir), "full"
    except exceptions.MkDocsException as exc:
        raise BuildFailed(f"mkdocs build of {site_dir} failed: {exc}; "
                          "see the warnings above") from exc


def _prepare(site_dir: Path, home: Path | None, mermaid: Path | None) -> list[str]:
    """Ready the generated tree; the hand-written pages copied because they changed."""
    if not (site_dir / "mkdocs.yml").is_file():
        raise KbError(f"{site_dir} holds no mkdocs.yml; run from the repository root or "
                      "set KB_SITE_DIR to the site folder")
    target = docs_dir(site_dir)
    target.mkdir(parents=True, exist_ok=True)
    copied = copy_hand_written(site_dir)
    vendor.install_all(target, home or Path.home() / ".kb", environ=os.environ,
                       explicit={vendor.MERMAID.name: mermaid})
    keep_compiled(site_dir / PAGE_TEMPLATE_CACHE)
    return copied


def build_site(graph: Graph, site_dir: Path, *, out_dir: Path | None = None,
               home: Path | None = None, mermaid: Path | None = None,
               mkdocs: bool = True) -> BuildResult:
    """Render every page, drop generated pages whose entity is gone, build the site."""
    _prepare(site_dir, home, mermaid)
    target = docs_dir(site_dir)
    mark = graph.read(reads.watermark)
    started, cpu = time.perf_counter(), time.process_time()
    paths, written = write_pages(iter_pages(graph), target)
    result = BuildResult(site_dir, out_dir or site_dir / "build", rendered=len(paths),
                         written=written, watermark=mark,
                         render_seconds=time.perf_counter() - started,
                         render_cpu_seconds=time.process_time() - cpu)
    previous = State.load(target)
    keep = set(paths)
    for stale in sorted(set(previous.pages if previous else []) - keep):
        (target / stale).unlink(missing_ok=True)
        result.removed.append(stale)
    if mkdocs:
        started = time.perf_counter()
        result.out_dir, result.built = run_mkdocs(site_dir, out_dir)
        result.mkdocs_seconds = time.perf_counter() - started
        _stamp(result)
    State(mark, sorted(keep)).save(target)
    return result


def _stamp(result: BuildResult) -> None:
    """The footer's generated line for every page of the built site (``stamp``)."""
    result.generated = datetime.now(UTC)
    stamp.write(result.out_dir, result.generated, result.watermark)


def sync_site(graph: Graph, site_dir: Path, *, out_dir: Path | None = None,
              home: Path | None = None, mermaid: Path | None = None) -> BuildResult:
    """Re-render the pages whose entities changed since the watermark, then rebuild.

    With no state yet this is a full build. Otherwise mkdocs rebuilds only the rewritten
    pages plus the tags page, and merges the search index (``incremental.partial``); it
    falls back to a full build when the previous build left no usable record. No change
    means no mkdocs run at all.
    """
    target = docs_dir(site_dir)
    state = State.load(target)
    if state is None or state.watermark is None:
        return build_site(graph, site_dir, out_dir=out_dir, home=home, mermaid=mermaid)
    removals = graph.read(erasures.removals_since, state.watermark)
    if any(op == Op.ERASE for op, _, _ in removals):
        # a forgotten person's handle, name and email may be on any page (as a trainer,
        # an owner, a writer in a History section): only a full build is sure to drop them
        return build_site(graph, site_dir, out_dir=out_dir, home=home, mermaid=mermaid)
    copied = _prepare(site_dir, home, mermaid)
    started, cpu = time.perf_counter(), time.process_time()
    change = graph.read(reads.changed_since, state.watermark)
    entities, indexes = affected(change["pages"], change["changed"],
                                 records=change["records"])
    result = BuildResult(site_dir, out_dir or site_dir / "build",
                         watermark=change["watermark"] or state.watermark)
    result.removed = _drop_deleted(graph, target, state, removals)
    for path in result.removed:
        indexes.add(next(kind for kind, folder in FOLDERS.items()
                         if path.startswith(folder + "/")))
    if any(kind in ("Deployment", "ModelVersion") for _, kind, _ in removals):
        indexes.add("Production")
    if entities or indexes:
        paths, result.written = write_pages(
            iter_pages(graph, entities=entities, indexes=indexes), target)
        result.rendered = len(paths)
        state.pages = sorted(set(state.pages) | set(paths))
    result.render_seconds = time.perf_counter() - started
    result.render_cpu_seconds = time.process_time() - cpu
    # no record: never built, or a build failed half-way; either way build in full
    built_before = all((result.out_dir / name).is_file()
                       for name in ("index.html", incremental.RECORD))
    if result.written or result.removed or copied or not built_before:
        started = time.perf_counter()
        changed = set(result.written) | set(copied) if built_before else None
        result.out_dir, result.built = run_mkdocs(site_dir, out_dir, changed=changed)
        result.mkdocs_seconds = time.perf_counter() - started
    # also with nothing to rebuild: the site was checked against the graph just now
    _stamp(result)
    state.watermark = result.watermark
    state.save(target)
    log.info("sync: %d pages re-rendered, %d rewritten, build %s", result.rendered,
             len(result.written), result.built)
    return result


def _drop_deleted(graph: Graph, target: Path, state: State,
                  removals: list[tuple[str, str, str]]) -> list[str]:
    """Remove the pages of entities deleted since the last sync (and not written again
    since): their paths. The mkdocs build that follows finds them gone and builds in
    full, so no index, search entry or sitemap keeps them."""
    deleted = {(kind, key) for op, kind, key in removals
               if op == Op.DELETE and kind in FOLDERS}
    if not deleted:
        return []
    still = set(graph.read(reads.targets, deleted))
    removed = sorted(entity_path(kind, key) for kind, key in deleted - still)
    for path in removed:
        (target / path).unlink(missing_ok=True)
    state.pages = sorted(set(state.pages) - set(removed))
    return removed


def clean(site_dir: Path) -> None:
    """Forget everything generated: the next build starts from scratch."""
    shutil.rmtree(docs_dir(site_dir), ignore_errors=True)
