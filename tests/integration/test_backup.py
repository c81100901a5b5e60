"""kb backup / kb restore on a local Neo4j apart from the session's, through the CLI.

One server serves the whole module (each start costs seconds); the tests run in order:
the round trip first, then refusals, which must leave the live graph as it is.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import at_80_columns, ok_json, runner
from neo4j import GraphDatabase

from kb.cli import app
from kb.config import Config
from kb.graph import SCHEMA_VERSION, Graph
from kb.ingest import Client
from kb.ingest.demo import load_demo
from kb.localdb import Connection, start
from kb.localdb.files import Layout


@pytest.fixture(scope="module")
def local(own_server: Config) -> Iterator[Config]:
    """The server of its own (``own_server``), running; its backups folder holds only this
    module's files, as the rotation test counts them."""
    start(own_server)
    shutil.rmtree(Layout.of(own_server).backups, ignore_errors=True)
    yield own_server


@pytest.fixture
def kb(local: Config, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """``kb ARGS`` against the module's server."""
    monkeypatch.delenv("KB_NEO4J_URI", raising=False)
    monkeypatch.setenv("KB_HOME", str(local.home))
    monkeypatch.setenv("KB_NEO4J_PORT", str(local.neo4j_port))
    monkeypatch.setenv("KB_NEO4J_HEAP", local.neo4j_heap)
    monkeypatch.setenv("KB_NEO4J_PAGECACHE", local.neo4j_pagecache)
    monkeypatch.setenv("KB_NEO4J_START_TIMEOUT", str(local.neo4j_start_timeout))
    return at_80_columns(monkeypatch)


def conn_of(config: Config) -> Connection:
    return start(config)  # the running server's connection


def full_dump(config: Config) -> tuple[list[str], list[str]]:
    """Every node and relationship with all properties, endpoints shown by their content,
    as sorted lines: equal dumps are equal graphs."""
    conn = conn_of(config)
    with GraphDatabase.driver(conn.uri, auth=(conn.user, str(conn.password))) as driver:
        nodes, _, _ = driver.execute_query(
            "MATCH (n) RETURN labels(n) AS l, properties(n) AS p", database_=conn.database)
        rels, _, _ = driver.execute_query(
            "MATCH (a)-[r]->(b) RETURN type(r) AS t, properties(r) AS p, labels(a) AS al, "
            "properties(a) AS ap, labels(b) AS bl, properties(b) AS bp",
            database_=conn.database)

    def line(*parts: object) -> str:
        return json.dumps(parts, sort_keys=True, default=str)

    # Every kb process that opens the graph stamps the schema record's appliedAt.
    return (sorted(line(sorted(r["l"]), {k: v for k, v in r["p"].items()
                                         if not ("KbMeta" in r["l"] and k == "appliedAt")})
                   for r in nodes),
            sorted(line(r["t"], r["p"], sorted(r["al"]), r["ap"], sorted(r["bl"]), r["bp"])
                   for r in rels))


def graph_of(config: Config) -> Graph:
    conn = conn_of(config)
    graph = Graph.connect(conn.uri, conn.user, str(conn.password), database=conn.database)
    graph.ensure_schema()
    return graph


def leftovers(config: Config) -> list[str]:
    """Work folders of backups and restores, and data folders the server does not use."""
    layout = Layout.of(config)
    live = layout.data_dir.name
    found = [p.name for p in layout.db_home.iterdir()
             if p.is_dir() and p.name.startswith(("data", "restore-")) and p.name != live]
    if layout.backups.is_dir():
        found += [p.name for p in layout.backups.iterdir() if p.name.startswith(".")]
    return found


def members(path: Path) -> tuple[dict[str, Any], bytes]:
    with tarfile.open(path) as tar:
        names = tar.getnames()
        assert names == ["manifest.json", "neo4j.dump"]
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        dump = tar.extractfile("neo4j.dump").read()  # type: ignore[union-attr]
    return manifest, dump


def write_backup(path: Path, manifest: dict[str, Any], dump: bytes) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in (("manifest.json", json.dumps(manifest).encode()),
                           ("neo4j.dump", dump)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


class Made:
    """The backup the round trip made, and the graph it holds."""

    file: Path
    graph: tuple[list[str], list[str]]


made = Made()


def test_restore_gives_back_the_graph_as_it_was_backed_up(local: Config, kb) -> None:
    graph = graph_of(local)
    try:
        load_demo(graph)
        before = full_dump(local)
        info = ok_json(kb("backup", "--json"))
        Client(graph, actor="late").log_run(id="run-after-the-backup", person="late")
        with Client(graph, actor="late").batch() as b:
            b.person("latecomer", name="Came later")
            b.model("late-model")
            b.own("model:late-model", owner="latecomer")
    finally:
        graph.close()
    assert full_dump(local) != before

    file = Path(info["file"])
    assert file.parent == local.home / "backups" and file.name.startswith("kb-backup-")
    manifest, dump = members(file)
    assert manifest == info["manifest"]
    assert manifest["dump"]["size"] == len(dump)
    assert manifest["counts"]["node_total"] == len(before[0])
    assert manifest["counts"]["relationship_total"] == len(before[1])
    assert manifest["counts"]["nodes"]["Change"] > 0
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert info["pause"]["down_s"] == info["downtime_s"] > 0

    restored = ok_json(kb("restore", str(file), "--yes", "--json"))
    assert restored["manifest"] == manifest
    assert full_dump(local) == before  # through the password the server had before
    assert Layout.of(local).data_dir == Path(restored["data_dir"])
    assert leftovers(local) == []
    made.file, made.graph = file, before

    listed = ok_json(kb("backup", "--list", "--json"))
    assert [(b["file"], b["nodes"]) for b in listed] == [
        (str(file), manifest["counts"]["node_total"])]


def refused(kb, file: Path, local: Config, message: str) -> None:
    pointer_before = Layout.of(local).data_dir
    result = kb("restore", str(file), "--yes", "--json")
    assert result.exit_code == 1, result.output
    error = json.loads(result.stdout)["error"]
    assert message in error["message"], error
    assert full_dump(local) == made.graph
    assert Layout.of(local).data_dir == pointer_before
    assert leftovers(local) == []


def test_a_file_that_is_not_a_tar_is_refused(local: Config, kb, tmp_path: Path) -> None:
    bad = tmp_path / "kb-backup-20260101T000000Z.tar"
    bad.write_bytes(b"this is not a tar\n" * 100)
    refused(kb, bad, local, "is not a tar file")
    refused(kb, tmp_path / "missing.tar", local, "is not a file")


def test_a_tar_without_a_manifest_is_refused(local: Config, kb, tmp_path: Path) -> None:
    bad = tmp_path / "other.tar"
    with tarfile.open(bad, "w") as tar:
        tar.add(__file__, arcname="notes.py")
    refused(kb, bad, local, "does not start with manifest.json")


def test_a_cut_off_file_is_refused(local: Config, kb, tmp_path: Path) -> None:
    raw = made.file.read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(raw[: len(raw) // 2])
    result = kb("restore", str(cut), "--yes", "--json")
    assert result.exit_code == 1
    message = json.loads(result.stdout)["error"]["message"]
    assert "damaged" in message, message
    assert full_dump(local) == made.graph
    assert leftovers(local) == []


def test_a_tampered_dump_is_refused(local: Config, kb, tmp_path: Path) -> None:
    manifest, dump = members(made.file)
    flipped = bytearray(dump)
    flipped[len(flipped) // 2] ^= 0xFF
    refused(kb, write_backup(tmp_path / "t.tar", manifest, bytes(flipped)), local,
            "the dump's SHA-256 does not match the manifest")
    refused(kb, write_backup(tmp_path / "s.tar", manifest, dump + b"\0"), local,
            f"the dump is {len(dump) + 1} bytes but the manifest says {len(dump)}")


def test_another_neo4j_version_or_a_newer_format_is_refused(
        local: Config, kb, tmp_path: Path) -> None:
    manifest, dump = members(made.file)
    refused(kb, write_backup(tmp_path / "v.tar", {**manifest, "neo4j_version": "5.20.0"}, dump),
            local, "made with Neo4j 5.20.0; this kb runs 5.26.30: set "
            "KB_NEO4J_VERSION=5.20.0 or use kb export/import")
    refused(kb, write_backup(tmp_path / "f.tar", {**manifest, "format": 99}, dump), local,
            "the backup's format is 99, newer than this kb reads")


def test_counts_that_the_dump_does_not_hold_are_refused(
        local: Config, kb, tmp_path: Path) -> None:
    manifest, dump = members(made.file)
    counts = manifest["counts"]
    wrong = {**manifest, "counts": {**counts, "nodes": {**counts["nodes"], "Person": 999}}}
    refused(kb, write_backup(tmp_path / "c.tar", wrong, dump), local,
            "does not hold what its manifest says (manifest vs loaded: nodes Person: 999 vs")


def test_declining_the_question_changes_nothing(local: Config, kb) -> None:
    result = runner.invoke(app, ["restore", str(made.file)], input="n\n")
    assert result.exit_code == 1
    assert "replaces the whole local graph" in result.stderr
    assert "Person" in result.stderr and "Replace it?" in result.stderr
    assert "Nothing was changed." in result.stdout
    assert full_dump(local) == made.graph
    assert leftovers(local) == []


def test_an_external_server_is_refused(kb, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_NEO4J_URI", "bolt://db.example:7687")
    for args in (["backup", "--json"], ["restore", str(made.file), "--yes", "--json"]):
        result = kb(*args)
        assert result.exit_code == 1
        message = json.loads(result.stdout)["error"]["message"]
        assert "Use neo4j-admin on that server, or `kb export`" in message


def test_keep_deletes_all_but_the_newest_of_kbs_backups(local: Config, kb) -> None:
    folder = local.home / "backups"
    manifest, dump = members(made.file)
    older = [write_backup(folder / f"kb-backup-2025010{d}T000000Z.tar",
                          {**manifest, "created_at": f"2025-01-0{d}T00:00:00+00:00"}, dump)
             for d in (1, 2, 3)]
    foreign = folder / "notes.tar"
    foreign.write_bytes(b"not ours")
    unreadable = folder / "kb-backup-20240101T000000Z.tar"
    unreadable.write_bytes(b"not a backup after all")

    info = ok_json(kb("backup", "--keep", "2", "--json"))

    kept = sorted(p.name for p in folder.glob("kb-backup-*.tar"))
    assert Path(info["file"]).exists() and made.file.exists()
    assert sorted(info["removed"]) == sorted(str(p) for p in older)
    assert kept == sorted([Path(info["file"]).name, made.file.name, unreadable.name])
    assert foreign.exists()
    assert info["manifest"]["counts"] == manifest["counts"]  # nothing was written since
    listed = ok_json(kb("backup", "--list", "--json"))
    assert [b["file"] for b in listed] == [info["file"], str(made.file)]

    result = kb("backup", "--keep", "0")
    assert result.exit_code == 2
