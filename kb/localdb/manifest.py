"""A kb backup file's manifest and names: what is in it, whether this kb can restore it,
and which backups a rotation keeps. Pure functions over plain data; ``backup`` does the I/O.

A backup is one uncompressed tar (the dump is compressed already) holding, in this order,
``manifest.json`` and ``neo4j.dump`` (the output of ``neo4j-admin database dump``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kb.errors import KbError

FORMAT = 1
MANIFEST = "manifest.json"
DUMP = "neo4j.dump"
KIND = "kb-backup"
MAX_MANIFEST_BYTES = 1024 * 1024

NAME = re.compile(r"^kb-backup-(\d{8}T\d{6}Z)(?:-(\d+))?\.tar$")
_STAMP = "%Y%m%dT%H%M%SZ"


class BackupRefused(KbError):
    """A file that ``kb restore`` will not load, with the reason."""

    code = "BACKUP_REFUSED"


def default_name(now: datetime, taken: Iterable[str] = ()) -> str:
    """``kb-backup-YYYYMMDDTHHMMSSZ.tar`` for ``now``, with ``-2``, ``-3`` ... if taken."""
    base = f"kb-backup-{now.astimezone(UTC).strftime(_STAMP)}"
    names = set(taken)
    name, n = f"{base}.tar", 1
    while name in names:
        n += 1
        name = f"{base}-{n}.tar"
    return name


def is_backup_name(name: str) -> bool:
    return NAME.match(name) is not None


@dataclass(frozen=True)
class Counts:
    """Nodes per label and relationships per type of one store, and their totals."""

    nodes: dict[str, int]
    relationships: dict[str, int]
    node_total: int
    relationship_total: int
    schema_version: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "counts") -> Counts:
        nodes = _count_map(data.get("nodes"), f"{where}.nodes")
        rels = _count_map(data.get("relationships"), f"{where}.relationships")
        node_total = _count(data.get("node_total"), f"{where}.node_total")
        rel_total = _count(data.get("relationship_total"), f"{where}.relationship_total")
        schema = data.get("schema_version")
        if schema is not None and not _is_int(schema):
            raise BackupRefused(f"{where}.schema_version: not an integer ({schema!r:.40})")
        return cls(nodes, rels, node_total, rel_total, schema)

    def to_json(self) -> dict[str, Any]:
        return {
            "nodes": dict(sorted(self.nodes.items())),
            "relationships": dict(sorted(self.relationships.items())),
            "node_total": self.node_total,
            "relationship_total": self.relationship_total,
            "schema_version": self.schema_version,
        }

    def differences(self, other: Counts) -> list[str]:
        """What differs from ``other``, one line per label, type or total."""
        out = []
        for name, mine, theirs in (("nodes", self.nodes, other.nodes),
                                   ("relationships", self.relationships, other.relationships)):
            for key in sorted(set(mine) | set(theirs)):
                if mine.get(key, 0) != theirs.get(key, 0):
                    out.append(f"{name} {key}: {mine.get(key, 0)} vs {theirs.get(key, 0)}")
        if self.node_total != other.node_total:
            out.append(f"node total: {self.node_total} vs {other.node_total}")
        if self.relationship_total != other.relationship_total:
            out.append(f"relationship total: {self.relationship_total} "
                       f"vs {other.relationship_total}")
        return out


@dataclass(frozen=True)
class Manifest:
    format: int
    kb_version: str
    neo4j_version: str
    database: str
    created_at: datetime
    dump_sha256: str
    dump_size: int
    counts: Counts

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "format": self.format,
            "kb_version": self.kb_version,
            "neo4j_version": self.neo4j_version,
            "database": self.database,
            "created_at": self.created_at.astimezone(UTC).isoformat(timespec="seconds"),
            "dump": {"name": DUMP, "sha256": self.dump_sha256, "size": self.dump_size},
            "counts": self.counts.to_json(),
            "schema_version": self.counts.schema_version,
        }

    def encode(self) -> bytes:
        return (json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n").encode()


def parse(raw: bytes, source: str = MANIFEST) -> Manifest:
    """The manifest in ``raw``; ``BackupRefused`` naming the field when it is not one."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BackupRefused(f"not a kb backup: {source} is not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise BackupRefused(f"not a kb backup: {source} has no kind {KIND!r}")
    fmt = data.get("format")
    if not _is_int(fmt) or fmt < 1:
        raise BackupRefused(f"{source} format: not a format number ({fmt!r:.40})")
    if fmt > FORMAT:
        raise BackupRefused(
            f"the backup's format is {fmt}, newer than this kb reads ({FORMAT}); "
            "restore it with a newer kb"
        )
    dump = data.get("dump")
    if not isinstance(dump, dict):
        raise BackupRefused(f"{source} dump: missing")
    sha = dump.get("sha256")
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise BackupRefused(f"{source} dump.sha256: not a SHA-256 digest ({sha!r:.80})")
    size = _count(dump.get("size"), f"{source} dump.size")
    try:
        created = datetime.fromisoformat(str(data.get("created_at")))
    except ValueError:
        raise BackupRefused(
            f"{source} created_at: not an ISO 8601 time ({data.get('created_at')!r:.40})"
        ) from None
    if created.tzinfo is None:
        raise BackupRefused(f"{source} created_at: has no time zone")
    counts = data.get("counts")
    if not isinstance(counts, dict):
        raise BackupRefused(f"{source} counts: missing")
    return Manifest(
        format=fmt,
        kb_version=_text(data, "kb_version", source),
        neo4j_version=_text(data, "neo4j_version", source),
        database=_text(data, "database", source),
        created_at=created.astimezone(UTC),
        dump_sha256=sha,
        dump_size=size,
        counts=Counts.from_json(counts, f"{source} counts"),
    )


def check_restorable(manifest: Manifest, neo4j_version: str) -> None:
    """Refuse a backup whose store this kb's Neo4j would not load as it is."""
    if manifest.neo4j_version != neo4j_version:
        raise BackupRefused(
            f"the backup was made with Neo4j {manifest.neo4j_version}; this kb runs "
            f"{neo4j_version}: set KB_NEO4J_VERSION={manifest.neo4j_version} "
            "or use kb export/import"
        )


def to_remove(backups: Iterable[tuple[Path, datetime]], keep: int) -> list[Path]:
    """The backups beyond the newest ``keep`` (by creation time, then name), oldest first."""
    if keep < 1:
        raise ValueError("keep must be at least 1")
    ordered = sorted(backups, key=lambda item: (item[1], item[0].name), reverse=True)
    return [path for path, _ in reversed(ordered[keep:])]


def _text(data: Mapping[str, Any], name: str, source: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise BackupRefused(f"{source} {name}: missing or not text")
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(value: object, where: str) -> int:
    if not _is_int(value) or value < 0:  # type: ignore[operator]
        raise BackupRefused(f"{where}: not a count ({value!r:.40})")
    return value  # type: ignore[return-value]


def _count_map(value: object, where: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise BackupRefused(f"{where}: missing")
    return {str(k): _count(v, f"{where}.{k}") for k, v in value.items()}
