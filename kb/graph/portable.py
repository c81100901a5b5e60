"""The portable export's reads and writes (the format is ``kb.domain.portable``).

Export streams each section from the server in its final order: nodes straight from each
label's key index, each node's outgoing links sorted per node, change records from the
``at`` index; records are fetched lazily, so memory stays flat however large the graph.

Import reads a file twice: the first pass validates every line and checks that each link
names nodes that are in the file or in the graph, and writes nothing; the second writes
it in transactions of a few thousand lines, each idempotent (MERGE on keys, history links
by their identity, change records only when absent).
"""

from __future__ import annotations

import gzip
import sqlite3
import tempfile
import zlib
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import neo4j
import orjson
from neo4j import ManagedTransaction
from neo4j.time import DateTime as NeoDateTime

from kb.domain import CHANGE_LABEL, KEY_PROPERTY, Label, Rel
from kb.domain import portable as fmt
from kb.domain.changes import IMPORT_PATH
from kb.errors import Conflict

from . import tokens
from .changes import ChangeLog, new_batch, record
from .driver import Graph, kb_errors
from .plan import NODE_ORDER
from .schema import SCHEMA_VERSION, create_missing
from .statements import KEYED, MISSING, NEW, unmark

TOKEN_LABEL = "ApiToken"
#: Lines written per import transaction: large enough to amortise a round trip, small
#: enough to keep the server's transaction state modest.
BATCH_LINES = 5000
#: ... and at most about this much of the file's text, so that a file of long lines (notes,
#: wide runs) is written in smaller transactions and memory stays bounded by the batch.
BATCH_BYTES = 4 << 20
#: Link ends checked against the file's nodes (and then the graph) at a time.
CHECK_BATCH = 5000
#: Transactions of one section written at once. Nodes and change records of different
#: batches never touch the same node; links of two batches would wait on the nodes they
#: share (a dataset version read by many runs).
IN_FLIGHT = {"node": 2, "link": 1, "change": 2, "token": 1}

Triple = tuple[Label, Rel, Label]


def _projection(var: str, times: tuple[str, ...]) -> str:
    """Every stored property of ``var``, its times as Neo4j's own ISO text."""
    parts = [".*", *(f"`{name}`: toString({var}.`{name}`)" for name in times)]
    return f"{var} {{{', '.join(parts)}}}"


def _node_read(label: Label) -> str:
    key = KEY_PROPERTY[label]
    times = fmt.time_names(fmt.NODE_PROPS[label])
    # ``IS NOT NULL`` lets the planner read the key's index in order: no sort at all.
    return (f"MATCH (n:{label.value}) WHERE n.`{key}` IS NOT NULL\n"
            f"RETURN n.`{key}` AS key, {_projection('n', times)} AS props\n"
            f"ORDER BY n.`{key}`")


def _outgoing(label: Label) -> list[Triple]:
    return sorted(t for t in fmt.LINK_OF if t[0] is label)


def _link_read(label: Label) -> str | None:
    triples = _outgoing(label)
    if not triples:
        return None
    key = KEY_PROPERTY[label]
    types = "|".join(sorted({t[1].value for t in triples}))
    targets = sorted({t[2] for t in triples})
    which = " ".join(f"WHEN b:{t.value} THEN '{t.value}'" for t in targets)
    keys = " ".join(f"WHEN b:{t.value} THEN b.`{KEY_PROPERTY[t]}`" for t in targets)
    times = tuple(sorted({name for t in triples for name in fmt.time_names(fmt.LINK_PROPS[t])}))
    # The sources come in key order from the index; only each one's own links are sorted.
    return (f"MATCH (a:{label.value}) WHERE a.`{key}` IS NOT NULL\n"
            f"MATCH (a)-[r:{types}]->(b)\n"
            f"WITH a, r, CASE {which} END AS bl, CASE {keys} END AS bk\n"
            "WHERE bl IS NOT NULL AND bk IS NOT NULL\n"
            f"RETURN a.`{key}` AS a, type(r) AS rel, bl, bk, {_projection('r', times)} AS props\n"
            f"ORDER BY a.`{key}`, rel, bl, bk, r.role, r.alias, r.since")


NODE_READ: dict[Label, str] = {label: _node_read(label) for label in Label}
LINK_READ: dict[Label, str] = {
    label: s for label in Label if (s := _link_read(label)) is not None}
# The ``at`` index gives the order; only records of one instant are sorted, by id.
CHANGE_READ = (f"MATCH (c:{CHANGE_LABEL}) WHERE c.at IS NOT NULL\n"
               "RETURN c {.*, at: toString(c.at)} AS props\n"
               "ORDER BY c.at, c.id")
TOKEN_READ = (f"MATCH (t:{TOKEN_LABEL}) WHERE t.id IS NOT NULL\n"
              f"RETURN {_projection('t', fmt.time_names(fmt.TOKEN_PROP))} AS props\n"
              "ORDER BY t.id")

# Counts from the count store: each is answered without reading a node.
COUNT_LABEL = {label: f"MATCH (n:{label.value}) RETURN count(n) AS n" for label in Label}
COUNT_REL = {rel: f"MATCH ()-[r:{rel.value}]->() RETURN count(r) AS n" for rel in Rel}
COUNT_CHANGES = f"MATCH (c:{CHANGE_LABEL}) RETURN count(c) AS n"
COUNT_TOKENS = f"MATCH (t:{TOKEN_LABEL}) RETURN count(t) AS n"


def section_totals(graph: Graph, *, with_tokens: bool = False) -> dict[str, int]:
    """How many lines each section will have, about (for a progress bar)."""
    one = lambda s: graph.query(s)[0]["n"]  # noqa: E731
    totals = {"node": sum(one(s) for s in COUNT_LABEL.values()),
              "link": sum(one(s) for s in COUNT_REL.values()),
              "change": one(COUNT_CHANGES)}
    if with_tokens:
        totals["token"] = one(COUNT_TOKENS)
    return totals


def _stream(graph: Graph, statement: str) -> Iterator[neo4j.Record]:
    """The records of one auto-commit read, fetched from the server as they are consumed."""
    with kb_errors(), graph._driver.session(  # same package: lazy records
            database=graph.database, bookmark_manager=graph.bookmarks,
            default_access_mode=neo4j.READ_ACCESS) as session:
        yield from session.run(statement)


def _iso(value: NeoDateTime) -> str:
    """A time the server returned as a value, as text ``datetime()`` parses back to it."""
    zone = getattr(value.tzinfo, "zone", None)
    text = value.iso_format()
    return f"{text}[{zone}]" if zone and "/" in zone else text


def _clean(props: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Stored properties as JSON values; and the names of those that are times and were
    not already projected as text (change record values)."""
    out: dict[str, Any] = {}
    times = []
    for name, value in props.items():
        if value is None:
            continue
        if isinstance(value, NeoDateTime):
            value = _iso(value)
            times.append(name)
        out[name] = value
    return out, times


def export_lines(graph: Graph, *, with_tokens: bool = False) -> Iterator[dict[str, Any]]:
    """Every line of an export of ``graph``, in the file's order, header first."""
    yield fmt.header(SCHEMA_VERSION, tokens=with_tokens)
    counts = dict.fromkeys(fmt.SECTIONS[:3], 0)
    for label in NODE_ORDER:
        key = KEY_PROPERTY[label]
        for rec in _stream(graph, NODE_READ[label]):
            props, _ = _clean(rec["props"])
            props.pop(key, None)
            counts["node"] += 1
            yield {"type": "node", "label": label.value, "key": rec["key"], "props": props}
    for label in NODE_ORDER:
        if label not in LINK_READ:
            continue
        for rec in _stream(graph, LINK_READ[label]):
            props, _ = _clean(rec["props"])
            counts["link"] += 1
            yield {"type": "link", "rel": rec["rel"], "from": {"label": label.value,
                                                              "key": rec["a"]},
                   "to": {"label": rec["bl"], "key": rec["bk"]}, "props": props}
    for rec in _stream(graph, CHANGE_READ):
        props, times = _clean(rec["props"])
        counts["change"] += 1
        yield {"type": "change", "props": props, "times": sorted(["at", *times])}
    if with_tokens:
        counts["token"] = 0
        for rec in _stream(graph, TOKEN_READ):
            props, _ = _clean(rec["props"])
            counts["token"] += 1
            yield {"type": "token", "props": props}
    yield {"type": "end", "counts": counts}


# -- import: statements ------------------------------------------------------------------
# Each statement finds its nodes through a uniqueness constraint or the change records'
# (kind, key, at) index, so its plan never depends on the counts (``KEYED``): an import
# moves them enough to have every statement planned again otherwise.

STAMP_NAMES = ("createdAt", "updatedAt", "updatedBy")


def _times_set(var: str, times: tuple[str, ...]) -> str:
    return ", ".join(f"{var}.`{t}` = coalesce(datetime(row.times.`{t}`), {var}.`{t}`)"
                     for t in times)


def _node_upsert(label: Label) -> str:
    """MERGE each row's node on its key and set the file's values; return how many it
    created, and for nodes that were there before, each field it changed (name, before,
    after), for the import's own change records."""
    key = KEY_PROPERTY[label]
    times = fmt.time_names(fmt.NODE_PROPS[label])
    stamps = "[" + ", ".join(f"'{s}'" for s in STAMP_NAMES) + "]"
    return (
        KEYED +
        "UNWIND $rows AS row\n"
        f"MERGE (n:{label.value} {{`{key}`: row.key}})\n"
        f"ON CREATE SET n.{NEW} = true\n"
        f"WITH n, row, n.{NEW} IS NOT NULL AS created, properties(n) AS before\n"
        + unmark("n", "created") +
        "SET n += row.props\n"
        f"SET {_times_set('n', times)}\n"
        "WITH n, created, before, [f IN keys(row.props) + keys(row.times)\n"
        f"  WHERE NOT f IN {stamps} AND NOT coalesce(before[f] = n[f], false)] AS fields\n"
        "RETURN count(CASE WHEN created THEN 1 END) AS created,\n"
        "  collect(CASE WHEN NOT created AND size(fields) > 0\n"
        f"    THEN [n.`{key}`, [f IN fields | [f, before[f], n[f]]]] END) AS changed"
    )


def _link_upsert(triple: Triple) -> str:
    a, rel, b = triple
    link = fmt.LINK_OF[triple]
    times = fmt.time_names(fmt.LINK_PROPS[triple])
    if link.history:
        # One of several links of a pair over time, told apart by its identity.
        ident = ", ".join(
            f"`{name}`: datetime(row.times.`{name}`)" if name in times
            else f"`{name}`: row.props.`{name}`" for name in fmt.identity(rel))
        pattern = f"(a)-[r:{rel.value} {{{ident}}}]->(b)"
    else:
        pattern = f"(a)-[r:{rel.value}]->(b)"
    return (
        KEYED +
        "UNWIND $rows AS row\n"
        f"MATCH (a:{a.value} {{`{KEY_PROPERTY[a]}`: row.a}})\n"
        f"MATCH (b:{b.value} {{`{KEY_PROPERTY[b]}`: row.b}})\n"
        f"MERGE {pattern}\n"
        "SET r += row.props\n"
        f"SET {_times_set('r', times)}\n"
        "RETURN count(r) AS n"
    )


def _change_create(times: tuple[str, ...]) -> str:
    """Create each row's record unless present; its times ``times`` (all it may hold)."""
    sets = ", ".join(f"c.`{t}` = datetime(row.times.`{t}`)" for t in times if t != "at")
    # Found, when present, through the (kind, key, at) index, then told apart by id; the
    # hint keeps it so when the plan was made on an empty graph (a fresh server).
    return (
        KEYED +
        "UNWIND $rows AS row\n"
        "WITH row, datetime(row.times.at) AS at\n"
        f"WHERE NOT EXISTS {{ MATCH (c:{CHANGE_LABEL} {{kind: row.props.kind, "
        "key: row.props.key, at: at})\n"
        f"  USING INDEX SEEK c:{CHANGE_LABEL}(kind, key, at) WHERE c.id = row.props.id }}\n"
        f"CREATE (c:{CHANGE_LABEL})\n"
        "SET c = row.props, c.at = at" + (f", {sets}" if sets else "") + "\n"
        "RETURN count(c) AS n"
    )


NODE_UPSERT: dict[Label, str] = {label: _node_upsert(label) for label in Label}
LINK_UPSERT: dict[Triple, str] = {t: _link_upsert(t) for t in fmt.LINK_OF}
# Most records hold one time, their own ``at``: they skip the others' conversions.
CHANGE_CREATE = _change_create(("at",))
CHANGE_CREATE_TIMES = _change_create(fmt.CHANGE_TIMES)
TOKEN_UPSERT = (
    KEYED +
    "UNWIND $rows AS row\n"
    f"MERGE (t:{TOKEN_LABEL} {{id: row.key}})\n"
    "SET t += row.props\n"
    f"SET {_times_set('t', fmt.time_names(fmt.TOKEN_PROP))}")


# -- import: the file --------------------------------------------------------------------


def open_text(path: Path) -> IO[bytes]:
    """``path`` as bytes, gunzipped when it is gzip (by its magic number, not its name)."""
    raw = open(path, "rb")  # noqa: SIM115 -- handed to the caller
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    raw.seek(0)
    return raw


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """Each line and its number; a damaged or truncated gzip stream is refused."""
    number = 0
    try:
        for number, text in enumerate(stream, start=1):
            yield number, text
    except (OSError, EOFError, zlib.error) as exc:
        raise fmt.refuse(number + 1, "line", f"cannot be read, the file is damaged or cut "
                         f"short ({exc})") from None


class _Keys:
    """The (label, key) of every node line, on disk, so that checking a file's links
    costs the same memory whatever its size."""

    def __init__(self, folder: str) -> None:
        self.db = sqlite3.connect(str(Path(folder) / "keys.sqlite"))
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("CREATE TABLE k (label TEXT, key TEXT, PRIMARY KEY (label, key)) "
                        "WITHOUT ROWID")
        self.db.execute("CREATE TABLE want (n INTEGER, f TEXT, label TEXT, key TEXT)")
        self.pending: list[tuple[str, str]] = []

    def add(self, label: str, key: str) -> None:
        self.pending.append((label, key))
        if len(self.pending) >= CHECK_BATCH:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.db.executemany("INSERT OR IGNORE INTO k VALUES (?, ?)", self.pending)
            self.pending.clear()

    def absent(self, wanted: list[tuple[int, str, str, str]]) -> list[tuple[int, str, str, str]]:
        """Of (line, field, label, key), those whose node is not in the file."""
        self.flush()
        self.db.execute("DELETE FROM want")
        self.db.executemany("INSERT INTO want VALUES (?, ?, ?, ?)", wanted)
        return list(self.db.execute(
            "SELECT n, f, label, key FROM want w WHERE NOT EXISTS "
            "(SELECT 1 FROM k WHERE k.label = w.label AND k.key = w.key) ORDER BY n"))

    def close(self) -> None:
        self.db.close()


@dataclass
class ImportResult:
    """What an import read and what it changed."""

    lines: dict[str, int] = field(default_factory=lambda: dict.fromkeys(fmt.SECTIONS, 0))
    #: Nodes the import created; nodes that were there and whose values it changed.
    created: int = 0
    updated: int = 0
    #: Change records from the file that were not in the graph yet.
    changes_added: int = 0
    links_written: int = 0

    def add(self, created: int, updated: int, changes_added: int, links: int) -> None:
        """Count one written batch."""
        self.created += created
        self.updated += updated
        self.changes_added += changes_added
        self.links_written += links


Progress = Callable[[str, int, int | None], None]


def _quiet(stage: str, done: int, total: int | None) -> None:
    return None


def validate_file(graph: Graph, path: Path, progress: Progress = _quiet) -> ImportResult:
    """Read every line of ``path`` and refuse the file (``InvalidInput`` naming the line
    and field) unless every line is valid and every link's ends are in the file or in
    the graph. Writes nothing."""
    result = ImportResult()
    with ExitStack() as stack:
        stream = stack.enter_context(open_text(path))
        keys = _Keys(stack.enter_context(tempfile.TemporaryDirectory(prefix="kb-import-")))
        stack.callback(keys.close)
        wanted: list[tuple[int, str, str, str]] = []
        section = -1
        ended = head = None
        number = 0
        for number, text in _lines(stream):
            if number == 1:
                head = fmt.parse_header(number, text)
                fmt.check_supported(number, head, SCHEMA_VERSION)
                continue
            if ended is not None:
                raise fmt.refuse(number, "line", f"follows the end line (line {ended})")
            line = fmt.parse_line(number, text)
            if isinstance(line, fmt.EndLine):
                ended = number
                if any(line.counts.get(k, 0) != v for k, v in result.lines.items()) or (
                        set(line.counts) - set(fmt.SECTIONS)):
                    raise fmt.refuse(number, "counts", "do not match the lines of the file "
                                     f"({result.lines}); it was cut or edited", line.counts)
                continue
            at = fmt.SECTIONS.index(line.type)
            if at < section:
                raise fmt.refuse(number, "type", f"a {line.type} line must come before "
                                 f"every {fmt.SECTIONS[section]} line")
            section = at
            result.lines[line.type] += 1
            if isinstance(line, fmt.NodeLine):
                keys.add(line.label.value, line.key)
            elif isinstance(line, fmt.LinkLine):
                wanted.append((number, "from.key", line.source.label.value, line.source.key))
                wanted.append((number, "to.key", line.target.label.value, line.target.key))
                if len(wanted) >= CHECK_BATCH:
                    _check_ends(graph, keys, wanted)
                    wanted.clear()
            if number % 10000 == 0:
                progress("checking", number, None)
        if head is None:
            raise fmt.refuse(1, "format", "the file is empty")
        if ended is None:
            raise fmt.refuse(number + 1, "type", "the file ends without its end line: it "
                             "was cut short")
        _check_ends(graph, keys, wanted)
        progress("checking", number, number)
    return result


def _check_ends(graph: Graph, keys: _Keys, wanted: list[tuple[int, str, str, str]]) -> None:
    """Refuse the first link end that is neither in the file nor in the graph."""
    if not wanted:
        return
    by_label: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for number, name, label, key in keys.absent(wanted):
        by_label[label].append((number, name, key))
    bad: list[tuple[int, str, str, str]] = []
    for label, items in by_label.items():
        found = graph.query(MISSING[Label(label)], keys=sorted({k for _, _, k in items}))
        missing = set(found[0]["missing"]) if found else set()
        bad += [(n, name, label, k) for n, name, k in items if k in missing]
    if bad:
        number, name, label, key = min(bad)
        raise fmt.refuse(number, name, f"names {label} {key!r}, which is neither in the "
                         "file nor in the graph")


def import_file(graph: Graph, path: Path, *, actor: str,
                progress: Progress = _quiet) -> ImportResult:
    """Validate ``path`` (nothing is written unless all of it is valid), then write it in
    transactions of ``BATCH_LINES`` lines. Importing a file again changes nothing."""
    checked = validate_file(graph, path, progress)
    total = sum(checked.lines.values())
    if checked.lines["token"]:
        create_missing(graph, tokens.CONSTRAINTS)
    result = ImportResult(lines=checked.lines)
    done = 0
    # Batches are written by threads of their own while the next is read and built, so
    # that the server and this process work at the same time, as the SDK's pipeline does.
    # A section's batches wait for the one before (links need their nodes committed).
    pending: deque[tuple[int, Future[tuple[int, int, int, int]]]] = deque()

    def settle(keep: int) -> None:
        nonlocal done
        while len(pending) > keep:
            size, future = pending.popleft()
            result.add(*future.result())
            done += size
            progress("writing", done, total)

    with open_text(path) as stream, ThreadPoolExecutor(2, "kb-import") as writer:
        section = None
        for batch in _batches(stream):
            settle(0 if batch.section != section else IN_FLIGHT[batch.section] - 1)
            section = batch.section
            pending.append((batch.size, writer.submit(graph.write, _write_batch, batch, actor)))
        settle(0)
    progress("writing", done, total)
    return result


def _batches(stream: IO[bytes]) -> Iterator[_Batch]:
    """The file's lines after the header, ``BATCH_LINES`` (or ``BATCH_BYTES``) at a time,
    each of one section."""
    batch, size = _Batch(), 0
    for number, text in _lines(stream):
        if number == 1:
            continue
        data = orjson.loads(text)
        if data["type"] == "end":
            break
        if batch.size and data["type"] != batch.section:
            yield batch
            batch, size = _Batch(), 0
        batch.add(data)
        size += len(text)
        if batch.size >= BATCH_LINES or size >= BATCH_BYTES:
            yield batch
            batch, size = _Batch(), 0
    if batch.size:
        yield batch


# Looked up once per line of a large file: computed once here.
_LABEL = {label.value: label for label in Label}
_NODE_TIMES = {label: fmt.time_names(fmt.NODE_PROPS[label]) for label in Label}
_LINK_TIMES = {triple: fmt.time_names(fmt.LINK_PROPS[triple]) for triple in fmt.LINK_OF}
_TOKEN_TIMES = fmt.time_names(fmt.TOKEN_PROP)


def _split(props: dict[str, Any], times: tuple[str, ...] | list[str]
           ) -> tuple[dict[str, Any], dict[str, Any]]:
    plain = {k: v for k, v in props.items() if k not in times}
    return plain, {k: props[k] for k in times if k in props}


@dataclass
class _Batch:
    nodes: dict[Label, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    links: dict[Triple, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    changes: list[dict[str, Any]] = field(default_factory=list)
    tokens: list[dict[str, Any]] = field(default_factory=list)
    size: int = 0
    section: str = ""

    def add(self, data: dict[str, Any]) -> None:
        self.size += 1
        kind = self.section = data["type"]
        if kind == "node":
            label = _LABEL[data["label"]]
            plain, times = _split(data["props"], _NODE_TIMES[label])
            self.nodes[label].append({"key": data["key"], "props": plain, "times": times})
        elif kind == "link":
            triple = (_LABEL[data["from"]["label"]], Rel(data["rel"]),
                      _LABEL[data["to"]["label"]])
            plain, times = _split(data["props"], _LINK_TIMES[triple])
            self.links[triple].append({"a": data["from"]["key"], "b": data["to"]["key"],
                                       "props": plain, "times": times})
        elif kind == "change":
            plain, times = _split(data["props"], data["times"])
            self.changes.append({"props": plain, "times": times})
        elif kind == "token":
            plain, times = _split(data["props"], _TOKEN_TIMES)
            self.tokens.append({"key": data["props"]["id"], "props": plain, "times": times})


def _write_batch(tx: ManagedTransaction, batch: _Batch, actor: str
                 ) -> tuple[int, int, int, int]:
    """One batch in one transaction, with the import's own change records of the nodes
    that were there and that it changed."""
    log = ChangeLog()
    created = updated = added = links = 0
    for label in NODE_ORDER:
        rows = batch.nodes.get(label)
        if not rows:
            continue
        out = tx.run(NODE_UPSERT[label], rows=rows).single(strict=True)
        created += out["created"]
        for key, fields in out["changed"]:
            updated += 1
            for name, before, after in fields:
                log.field(label.value, key, name, before, after)
    for triple in sorted(batch.links):
        rows = batch.links[triple]
        n = tx.run(LINK_UPSERT[triple], rows=rows).single(strict=True)["n"]
        if n != len(rows):
            # Checked before writing; only a concurrent delete gets here.
            raise Conflict(f"{len(rows) - n} {triple[1].value} links name nodes that are "
                           "no longer in the graph; import again")
        links += n
    simple = [row for row in batch.changes if len(row["times"]) == 1]
    timed = [row for row in batch.changes if len(row["times"]) > 1]
    for statement, rows in ((CHANGE_CREATE, simple), (CHANGE_CREATE_TIMES, timed)):
        if rows:
            added += tx.run(statement, rows=rows).single(strict=True)["n"]
    if batch.tokens:
        tx.run(TOKEN_UPSERT, rows=batch.tokens).consume()
    if log:
        record(tx, log, now=datetime.now(UTC).isoformat(), actor=actor, path=IMPORT_PATH,
               batch=new_batch())
    return created, updated, added, links


