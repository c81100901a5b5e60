"""The sync state: an updatedAt watermark and the pages the last run wrote.

It lives in the generated docs folder as a dot file (mkdocs skips dot files), so deleting
that folder forgets it and the next sync is a full build.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .pages import FOLDERS

STATE_FILE = ".kb-sync.json"


@dataclass
class State:
    watermark: datetime | None = None
    pages: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, docs_dir: Path) -> State | None:
        path = docs_dir / STATE_FILE
        if not path.is_file():
            return None
        raw = json.loads(path.read_text())
        mark = raw.get("watermark")
        return cls(datetime.fromisoformat(mark) if mark else None, list(raw.get("pages", [])))

    def save(self, docs_dir: Path) -> None:
        data = {"watermark": self.watermark.isoformat() if self.watermark else None,
                "pages": sorted(self.pages)}
        path = docs_dir / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        tmp.replace(path)


def affected(pages: list[tuple[str, str]], changed: dict[str, list[str]], *,
             records: bool = False) -> tuple[set[tuple[str, str]], set[str]]:
    """Entity pages to re-render and the index pages that list them.

    Home lists counts and recent activity, and Recent changes every change record
    (``records``: some were written since), so any change touches both; a section index
    is touched when one of its entities is; production when a deployment or a served
    version changed.
    """
    entities = {(kind, key) for kind, key in pages if kind in FOLDERS}
    indexes = {kind for kind, _ in entities}
    if changed or entities or records:
        indexes.update(("Home", "Changes"))
    if "Deployment" in changed or "ModelVersion" in changed:
        indexes.add("Production")
    return entities, indexes
