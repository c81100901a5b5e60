"""Content digests that pin a data version to its bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from kb.errors import InvalidInput

_CHUNK = 1 << 20


def _file(path: Path, h: hashlib._Hash) -> None:
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)


def content_digest(path: str | Path) -> str:
    """``sha256:<hex>`` of a file, or of a folder's relative paths and contents.

    A folder's digest is independent of file-system order and timestamps, so the same
    files give the same digest on any machine.
    """
    root = Path(path)
    if not root.exists():
        raise InvalidInput("path", "does not exist", str(path))
    h = hashlib.sha256()
    if root.is_file():
        _file(root, h)
    else:
        for item in sorted(p for p in root.rglob("*") if p.is_file()):
            h.update(item.relative_to(root).as_posix().encode())
            h.update(b"\0")
            inner = hashlib.sha256()
            _file(item, inner)
            h.update(inner.digest())
    return f"sha256:{h.hexdigest()}"
