"""The mermaid script the site serves itself, so diagrams render with no internet.

Looked up in order: ``KB_MERMAID_JS`` (a file), the cache under the kb home, then fetched
once from the npm registry with ``npm pack mermaid@11`` into that cache. Without any of
them the build still succeeds and the theme falls back to its CDN copy.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

MERMAID_SPEC = "mermaid@11"
ASSET = Path("assets/javascripts/mermaid.min.js")


def cached_path(home: Path) -> Path:
    return home / "vendor" / "mermaid.min.js"


def fetch(home: Path) -> Path | None:
    """Download mermaid's browser build into the cache; None when npm is missing or fails."""
    target = cached_path(home)
    npm = shutil.which("npm")
    if npm is None:
        log.warning("npm not found: mermaid diagrams will load from the theme's CDN")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            out = subprocess.run([npm, "pack", MERMAID_SPEC, "--silent"], cwd=tmp, check=True,
                                 capture_output=True, text=True, timeout=300)
        except (subprocess.SubprocessError, OSError) as exc:
            log.warning("npm pack %s failed (%s): diagrams will use the CDN", MERMAID_SPEC, exc)
            return None
        tgz = Path(tmp) / out.stdout.strip().splitlines()[-1]
        with tarfile.open(tgz) as tar:
            member = tar.getmember("package/dist/mermaid.min.js")
            source = tar.extractfile(member)
            if source is None:
                return None
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".part")
            partial.write_bytes(source.read())
            partial.replace(target)
    log.info("vendored %s into %s", MERMAID_SPEC, target)
    return target


def mermaid_js(home: Path, *, explicit: Path | None = None, download: bool = True
               ) -> Path | None:
    if explicit is not None and explicit.is_file():
        return explicit
    cached = cached_path(home)
    if cached.is_file():
        return cached
    return fetch(home) if download else None


def install(docs_dir: Path, home: Path, *, explicit: Path | None = None,
            download: bool = True) -> bool:
    """Copy the script into the docs tree (only when it differs); True when present."""
    source = mermaid_js(home, explicit=explicit, download=download)
    if source is None:
        return False
    target = docs_dir / ASSET
    if not target.is_file() or target.stat().st_size != source.stat().st_size:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return True
