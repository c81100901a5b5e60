"""What a crash leaves: a killed Neo4j, a backup under a live writer, a killed restore.

The tests share one local server apart from the session's (``own_server``): each kill is
followed by a start anyway, and a start costs seconds. The backup taken under a writer is
made once (``under_a_writer``) and is also the backup the killed restores restore. Batches
of runs are recognisable by their ids (``<prefix><batch>-<n>``, a fixed number per batch),
so "every batch whole or absent" can be read back from the graph.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import pytest
from neo4j import GraphDatabase

from kb.config import Config
from kb.errors import LocalDbError
from kb.graph import Graph
from kb.ingest import Client
from kb.localdb import process as local_process
from kb.localdb import start
from kb.localdb.backup import backup, restore
from kb.localdb.files import Layout, read_state

SIZE = 40


@pytest.fixture
def local(own_server: Config) -> Config:
    """The shared server, running and emptied (but for the schema's record), so a test
    reads back only what it wrote."""
    wipe(own_server)
    return own_server


def wipe(config: Config) -> None:
    query(config, "MATCH (n) WHERE NOT n:KbMeta DETACH DELETE n")


def query(config: Config, cypher: str, **params: object) -> list[dict]:
    conn = start(config)
    with GraphDatabase.driver(conn.uri, auth=(conn.user, str(conn.password))) as driver:
        records, _, _ = driver.execute_query(cypher, params, database_=conn.database)
        return [r.data() for r in records]


def graph_of(config: Config, retry_seconds: float | None = None) -> Graph:
    conn = start(config)
    extra = {} if retry_seconds is None else {"retry_seconds": retry_seconds}
    graph = Graph.connect(conn.uri, conn.user, str(conn.password), database=conn.database,
                          **extra)
    graph.ensure_schema()
    return graph


def batches_of(ids: list[str], prefix: str) -> Counter[int]:
    """Runs per batch number among ``ids`` of the form ``<prefix><batch>-<n>``."""
    return Counter(int(i[len(prefix):].split("-")[0]) for i in ids if i.startswith(prefix))


def run_ids(config: Config) -> list[str]:
    return [r["id"] for r in query(config, "MATCH (r:Run) RETURN r.id AS id")]


def write_batch(client: Client, prefix: str, i: int) -> None:
    with client.batch() as b:
        for n in range(SIZE):
            b.run(id=f"{prefix}{i}-{n}", person="writer")


def acked(future: Future) -> bool:
    """Written without an error, as the writer was told."""
    return future.done() and not future.cancelled() and future.exception() is None


def test_a_killed_server_keeps_each_batch_whole_or_absent(local: Config) -> None:
    graph = graph_of(local, retry_seconds=1.0)  # fail soon once the server is gone
    client = Client(graph, actor="writer")
    futures: list[Future] = []
    stopped: list[BaseException] = []

    def ingest() -> None:
        try:
            with client.pipeline(depth=2) as pipe:
                for i in range(10_000):
                    b = client.builder()
                    for n in range(SIZE):
                        b.run(id=f"b{i}-{n}", person="writer")
                    futures.append(pipe.submit(b))
        except Exception as exc:
            stopped.append(exc)

    writer = threading.Thread(target=ingest)
    writer.start()
    deadline = time.monotonic() + 120
    while sum(map(acked, futures)) < 5:
        assert writer.is_alive() and time.monotonic() < deadline, stopped
        time.sleep(0.05)
    os.kill(int(read_state(Layout.of(local))["pid"]), signal.SIGKILL)
    writer.join(120)
    graph.close()
    assert not writer.is_alive() and stopped, "the writer went on without its server"

    acknowledged = {i for i, f in enumerate(futures) if acked(f)}
    start(local)  # recovers the store from its transaction log
    present = batches_of(run_ids(local), "b")
    assert acknowledged and acknowledged <= set(present)
    assert set(present.values()) == {SIZE}, f"half batches: {present}"
    assert set(present) == set(range(len(present)))  # in order: no gap before a batch
    changed = query(local, "MATCH (c:Change {kind: 'Run'}) RETURN c.key AS key, c.op AS op")
    assert Counter(c["op"] for c in changed) == {"create": SIZE * len(present)}
    assert batches_of([c["key"] for c in changed], "b") == present


@dataclass(frozen=True)
class UnderAWriter:
    """A backup taken while a writer wrote batches, and what the writer was told."""

    info: dict
    acknowledged: list[int]
    after_backup: int  # batches acknowledged when the backup returned
    failed: list[BaseException]
    live: Counter[int]  # the live graph's batches once the writer stopped

    @property
    def file(self) -> Path:
        return Path(self.info["file"])

    @property
    def batches(self) -> dict[int, int]:
        """The whole batches the backup holds, by its manifest (which the test of the
        backup checks against the graph it restores)."""
        return {i: SIZE for i in range(self.info["manifest"]["counts"]["nodes"]["Run"]
                                       // SIZE)}


@pytest.fixture(scope="module")
def under_a_writer(own_server: Config, tmp_path_factory: pytest.TempPathFactory
                   ) -> UnderAWriter:
    local = own_server
    wipe(local)
    graph = graph_of(local)  # the default retry window: the writer waits out the backup
    client = Client(graph, actor="writer")
    acknowledged: list[int] = []
    failed: list[BaseException] = []
    enough = threading.Event()

    def writer() -> None:
        try:
            i = 0
            while not enough.is_set():
                write_batch(client, "w", i)
                acknowledged.append(i)
                i += 1
        except BaseException as exc:
            failed.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(acknowledged) < 3:
            assert thread.is_alive(), failed
            time.sleep(0.05)
        # Not in <home>/backups, which test_backup's rotation counts on the same server.
        info = backup(local, tmp_path_factory.mktemp("backups") / "kb-backup-writer.tar")
        after_backup = len(acknowledged)
        while len(acknowledged) < after_backup + 3:
            assert thread.is_alive(), failed
            time.sleep(0.05)
    finally:
        enough.set()
        thread.join(120)
    graph.close()
    return UnderAWriter(info, acknowledged, after_backup, failed,
                        batches_of(run_ids(local), "w"))


def test_a_backup_under_a_writer_loses_no_write(under_a_writer: UnderAWriter) -> None:
    """The writer waited out the backup and lost nothing. What the backup holds (the first
    whole batches, as its manifest counts them) is checked where it is restored whole, at
    the end of ``test_a_killed_restore_leaves_the_old_graph_or_the_backups``: one restore
    serves both."""
    made = under_a_writer
    assert made.failed == []
    assert made.live == {i: SIZE for i in made.acknowledged}


KILLER = """
import os, signal, sys
from pathlib import Path
import kb.localdb.backup as backup
from kb.config import Config

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

setattr(backup, sys.argv[1], die)
backup.restore(Config.from_env(), Path(sys.argv[2]))
"""


def killed_restoring(config: Config, at: str, file: Path) -> None:
    """A ``kb restore`` process killed where it calls ``at``."""
    env = os.environ | {
        "KB_HOME": str(config.home), "KB_NEO4J_PORT": str(config.neo4j_port),
        "KB_NEO4J_HEAP": config.neo4j_heap, "KB_NEO4J_PAGECACHE": config.neo4j_pagecache,
        "KB_NEO4J_START_TIMEOUT": str(config.neo4j_start_timeout),
    }
    env.pop("KB_NEO4J_URI", None)
    done = subprocess.run([sys.executable, "-c", KILLER, at, str(file)], env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr


def test_a_killed_restore_leaves_the_old_graph_or_the_backups(
        local: Config, under_a_writer: UnderAWriter,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The backup made under a writer; the live graph, emptied, holds none of its batches.
    file, backed_up = under_a_writer.file, under_a_writer.batches
    assert len(backed_up) >= 3

    def write_more(prefix: str) -> dict[int, int]:
        graph = graph_of(local)
        try:
            write_batch(Client(graph, actor="writer"), prefix, 0)
        finally:
            graph.close()
        return {0: SIZE}

    write_more("x")
    # Killed after the server stopped, before the switch: `kb up` finds the old graph.
    killed_restoring(local, "write_data_pointer", file)
    start(local)
    assert batches_of(run_ids(local), "w") == {}
    assert batches_of(run_ids(local), "x") == {0: SIZE}

    # Killed after the switch, before the start: `kb up` finds the backup's graph.
    killed_restoring(local, "start_locked", file)
    start(local)
    assert batches_of(run_ids(local), "w") == backed_up
    assert batches_of(run_ids(local), "x") == {}

    # The restored server's JVM killed while it starts: back to the old graph, running.
    write_more("y")
    real_wait = local_process.wait_ready
    calls: list[int] = []

    def killed_while_starting(proc, *args, **kwargs):
        calls.append(proc.pid)
        if len(calls) == 1:
            os.kill(proc.pid, signal.SIGKILL)
        return real_wait(proc, *args, **kwargs)

    monkeypatch.setattr(local_process, "wait_ready", killed_while_starting)
    with pytest.raises(LocalDbError, match="switched back to the previous data, which runs "
                       "again unchanged"):
        restore(local, file)
    monkeypatch.setattr(local_process, "wait_ready", real_wait)
    assert len(calls) == 2
    assert batches_of(run_ids(local), "y") == {0: SIZE}
    assert batches_of(run_ids(local), "w") == backed_up

    # A whole restore after all that, which also clears what the killed ones left.
    restore(local, file)
    assert batches_of(run_ids(local), "w") == backed_up
    assert batches_of(run_ids(local), "y") == {}
    # The backup taken under the writer holds its first k batches whole, and the counts
    # its manifest gives.
    restored = batches_of(run_ids(local), "w")
    k = len(restored)
    assert restored == {i: SIZE for i in range(k)}  # the first k whole batches
    assert 3 <= k <= under_a_writer.after_backup + 1
    counts = under_a_writer.info["manifest"]["counts"]
    assert counts["nodes"]["Run"] == k * SIZE
    by_label = query(local, "MATCH (n) UNWIND labels(n) AS l RETURN l, count(*) AS c")
    assert {r["l"]: r["c"] for r in by_label} == counts["nodes"]
    total = query(local, "MATCH ()-[r]->() RETURN count(r) AS c")[0]["c"]
    assert total == counts["relationship_total"]
    layout = Layout.of(local)
    assert sorted(p.name for p in layout.db_home.iterdir()
                  if p.is_dir() and p.name.startswith(("data", "restore-"))) == [
        layout.data_dir.name]
