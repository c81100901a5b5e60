"""The browser scripts the site serves itself, so it works with no internet access:
mermaid (diagrams), Chart.js (metric charts) and tablesort (sortable tables).

Each is looked up in order: its ``KB_*_JS`` variable (a file), the cache under the kb
home, then fetched once from the npm registry with ``npm pack`` into that cache. Without
any of them the build still succeeds: the theme loads mermaid from its CDN, and the site's
own script (``kb-site.js``) leaves the tables unsorted and shows the metrics table alone.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kb import npm

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Script:
    """One npm package's browser build: where it is in the tarball and on the site."""

    spec: str  # what ``npm pack`` fetches
    member: str  # the file inside the package's tarball
    name: str  # its file name in the cache and under ``assets/javascripts``
    variable: str  # the environment variable naming a local copy

    @property
    def asset(self) -> Path:
        return Path("assets/javascripts") / self.name


MERMAID = Script("mermaid@11", "package/dist/mermaid.min.js", "mermaid.min.js",
                 "KB_MERMAID_JS")
SCRIPTS = (
    MERMAID,
    Script("chart.js@4", "package/dist/chart.umd.min.js", "chart.umd.min.js", "KB_CHART_JS"),
    Script("tablesort@5", "package/dist/tablesort.min.js", "tablesort.min.js",
           "KB_TABLESORT_JS"),
    Script("tablesort@5", "package/dist/sorts/tablesort.number.min.js",
           "tablesort.number.min.js", "KB_TABLESORT_NUMBER_JS"),
)
#: The mermaid script's place on the site (kept for callers of the single-script API).
ASSET = MERMAID.asset


def cached_path(home: Path, script: Script = MERMAID) -> Path:
    return home / "vendor" / script.name


def fetch(home: Path, script: Script = MERMAID) -> Path | None:
    """Download the script into the cache; None when npm is missing or fails."""
    target = cached_path(home, script)
    try:
        npm.extract(script.spec, {script.member: target})
    except npm.NpmError as exc:
        log.warning("%s: the site does without %s", exc, script.name)
        return None
    log.info("vendored %s into %s", script.spec, target)
    return target


def script_path(home: Path, script: Script = MERMAID, *, explicit: Path | None = None,
                download: bool = True) -> Path | None:
    if explicit is not None and explicit.is_file():
        return explicit
    cached = cached_path(home, script)
    if cached.is_file():
        return cached
    return fetch(home, script) if download else None


def mermaid_js(home: Path, *, explicit: Path | None = None, download: bool = True
               ) -> Path | None:
    return script_path(home, MERMAID, explicit=explicit, download=download)


def _copy(source: Path, target: Path) -> None:
    """Copy only when it differs, so a sync leaves an unchanged script alone."""
    if not target.is_file() or target.stat().st_size != source.stat().st_size:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def install(docs_dir: Path, home: Path, *, explicit: Path | None = None,
            download: bool = True) -> bool:
    """Copy the mermaid script into the docs tree; True when present."""
    source = mermaid_js(home, explicit=explicit, download=download)
    if source is None:
        return False
    _copy(source, docs_dir / MERMAID.asset)
    return True


def install_all(docs_dir: Path, home: Path, *, environ: Mapping[str, str],
                explicit: Mapping[str, Path | None] | None = None,
                download: bool = True) -> dict[str, bool]:
    """Copy every script into the docs tree; by file name, whether it is there.

    ``explicit`` (by file name) wins over ``environ``'s ``KB_*_JS`` variables.
    """
    present = {}
    for script in SCRIPTS:
        given = (explicit or {}).get(script.name)
        if given is None and environ.get(script.variable):
            given = Path(environ[script.variable])
        source = script_path(home, script, explicit=given, download=download)
        if source is not None:
            _copy(source, docs_dir / script.asset)
        present[script.name] = source is not None
    return present
