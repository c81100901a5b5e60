"""The backup manifest, names, rotation and data pointer: the pure parts of kb backup."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from kb.localdb.files import Layout, read_data_pointer, write_data_pointer
from kb.localdb.manifest import (
    FORMAT,
    BackupRefused,
    Counts,
    Manifest,
    check_restorable,
    default_name,
    is_backup_name,
    parse,
    to_remove,
)
from kb.localdb.process import conf_text

WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def manifest(**overrides: object) -> Manifest:
    fields: dict[str, object] = dict(
        format=FORMAT, kb_version="0.1.0", neo4j_version="5.26.30", database="neo4j",
        created_at=WHEN, dump_sha256="ab" * 32, dump_size=1234,
        counts=Counts({"Person": 3, "Run": 5}, {"OWNS": 2}, 8, 2, 2),
    )
    fields.update(overrides)
    return Manifest(**fields)  # type: ignore[arg-type]


def edited(change) -> bytes:
    data = manifest().to_json()
    change(data)
    return json.dumps(data).encode()


def test_a_manifest_survives_its_own_encoding() -> None:
    assert parse(manifest().encode()) == manifest()


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.pop("kind"), "not a kb backup"),
    (lambda d: d.update(format=FORMAT + 1), "newer than this kb reads"),
    (lambda d: d.update(format="1"), "format"),
    (lambda d: d["dump"].update(sha256="xyz"), "dump.sha256"),
    (lambda d: d["dump"].update(size=-1), "dump.size"),
    (lambda d: d["dump"].update(size=True), "dump.size"),
    (lambda d: d.update(created_at="yesterday"), "created_at"),
    (lambda d: d.update(created_at="2026-01-01T00:00:00"), "time zone"),
    (lambda d: d["counts"]["nodes"].update(Run="5"), "counts.nodes.Run"),
    (lambda d: d["counts"].pop("relationships"), "counts.relationships"),
    (lambda d: d.update(neo4j_version=""), "neo4j_version"),
])
def test_a_bad_manifest_is_refused_naming_the_field(change, message: str) -> None:
    with pytest.raises(BackupRefused, match=message):
        parse(edited(change))


def test_not_json_is_not_a_backup() -> None:
    with pytest.raises(BackupRefused, match=r"not a kb backup.*not JSON"):
        parse(b"\xff\xfe garbage")


def test_another_neo4j_version_is_refused_with_the_way_out() -> None:
    check_restorable(manifest(), "5.26.30")
    with pytest.raises(BackupRefused) as caught:
        check_restorable(manifest(neo4j_version="5.20.0"), "5.26.30")
    assert caught.value.message == (
        "the backup was made with Neo4j 5.20.0; this kb runs 5.26.30: "
        "set KB_NEO4J_VERSION=5.20.0 or use kb export/import")


def test_count_differences_name_each_label_type_and_total() -> None:
    mine = Counts({"Person": 3, "Run": 5}, {"OWNS": 2}, 8, 2)
    theirs = Counts({"Person": 3, "Note": 1}, {"OWNS": 1}, 4, 1)
    assert mine.differences(mine) == []
    assert mine.differences(theirs) == [
        "nodes Note: 0 vs 1", "nodes Run: 5 vs 0", "relationships OWNS: 2 vs 1",
        "node total: 8 vs 4", "relationship total: 2 vs 1",
    ]


def test_default_names_are_utc_times_and_never_collide() -> None:
    local = WHEN.astimezone(timezone(timedelta(hours=2)))
    assert default_name(local) == "kb-backup-20260304T050607Z.tar"
    taken = ["kb-backup-20260304T050607Z.tar", "kb-backup-20260304T050607Z-2.tar"]
    assert default_name(WHEN, taken) == "kb-backup-20260304T050607Z-3.tar"
    assert all(is_backup_name(n) for n in [*taken, default_name(WHEN, taken)])
    for other in ("kb-backup-x.tar", "notes.tar", "kb-backup-20260304T050607Z.tar.tmp",
                  ".kb-backup-20260304T050607Z.tar.1.tmp"):
        assert not is_backup_name(other)


def test_rotation_keeps_the_newest_by_creation_time() -> None:
    files = [(Path(f"/b/{n}"), WHEN + timedelta(hours=h))
             for n, h in (("c", 2), ("a", 0), ("d", 3), ("b", 1))]
    assert to_remove(files, 2) == [Path("/b/a"), Path("/b/b")]
    assert to_remove(files, 4) == []
    assert to_remove(files, 9) == []
    with pytest.raises(ValueError):
        to_remove(files, 0)


def test_the_data_pointer_names_the_live_folder(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.db_home.mkdir()
    assert layout.data_dir == tmp_path / "neo4j" / "data"  # homes from before restores
    write_data_pointer(layout, "data-20260304T050607Z")
    assert read_data_pointer(layout) == "data-20260304T050607Z"
    assert layout.data_dir == tmp_path / "neo4j" / "data-20260304T050607Z"
    assert not list(layout.db_home.glob("*.tmp"))
    for bad in ("../elsewhere", "/etc", "data/../../x", ""):
        layout.data_pointer.write_text(bad + "\n")
        assert layout.data_dir == tmp_path / "neo4j" / "data"
    with pytest.raises(ValueError):
        write_data_pointer(layout, "../x")


def test_the_conf_names_the_data_folder_it_is_given(tmp_path: Path) -> None:
    from kb.config import Config

    config = Config(home=tmp_path)
    assert "server.directories.data" not in conf_text(config)
    text = conf_text(config, tmp_path / "neo4j" / "data-1")
    assert f"server.directories.data={tmp_path / 'neo4j' / 'data-1'}\n" in text


def test_a_pointer_to_a_missing_folder_stops_the_start(tmp_path: Path) -> None:
    from kb.config import Config, Secret
    from kb.errors import LocalDbError
    from kb.localdb import server

    layout = Layout(tmp_path)
    layout.db_home.mkdir()
    write_data_pointer(layout, "data-gone")
    with pytest.raises(LocalDbError, match=r"names the data folder .*data-gone, which is gone"):
        server._start_java(Config(home=tmp_path), layout, Secret("x"), {})
    assert not (layout.db_home / "data-gone").exists()
