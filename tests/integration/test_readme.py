"""The README's examples run as written on the demo history.

The convention the README keeps, and this test holds it to:

- every ```bash block runs as one bash script (``set -euo pipefail``), with the installed
  ``kb`` first on PATH;
- every ```python block runs as a script of its own;
- every line of a ```graphql block is a query the API answers without errors;
- every ``kb ...`` cell of a table runs as a command.

Each runs on a freshly loaded demo (``kb demo``), in a working folder holding what a
user's clone holds: the ``site/`` project, and a ``data/`` folder standing for the
training data the examples pin with a digest. Lines that start a server or need what a
test cannot have are listed in ``SKIPPED`` with the reason; they, and every inline
``kb ...`` in the prose, must still name a real command and real options.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from api_support import Api
from typer.testing import CliRunner

from docs_gen import vendor
from kb.cli import app
from kb.graph import Graph
from kb.ingest.capture import current_person
from kb.ingest.demo import load_demo

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()

#: Lines of bash blocks that are shown but not run, by how they start, with the reason.
SKIPPED = {
    "bash scripts/main.sh": "sets everything up, then serves the API until Ctrl-C",
    "bash scripts/test.sh": "is the test suite itself",
    "kb serve": "serves the API until stopped",
    "kb docs watch": "rebuilds the site until stopped",
    "kb docs serve": "serves the site until stopped",
    "kb backup": "stops and restarts the local Neo4j, which the tests do not run this way",
    "kb restore": "replaces the local Neo4j's data with a backup the test does not have",
}

FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)
INLINE_KB = re.compile(r"`(kb [^`]+)`")
TABLE_KB = re.compile(r"^\|.*\|\s*`(kb [^`]+)`\s*\|$", re.M)


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    line: int

    @property
    def name(self) -> str:
        return f"README.md:{self.line} ({self.lang})"


def _blocks() -> list[Block]:
    blocks = [Block(m[1], m[2], README.count("\n", 0, m.start()) + 1)
              for m in FENCE.finditer(README)]
    table = [m[1] for m in TABLE_KB.finditer(README)]
    first = README.count("\n", 0, TABLE_KB.search(README).start()) + 1
    return [*blocks, Block("bash", "\n".join(table) + "\n", first)]


def _skip_reason(line: str) -> str | None:
    return next((why for start, why in SKIPPED.items() if line.startswith(start)), None)


def _runs_something(block: Block) -> bool:
    return block.lang == "python" or any(
        line.strip() and not _skip_reason(line.strip()) for line in block.code.splitlines())


BLOCKS = _blocks()
RUN = [b for b in BLOCKS if b.lang in ("bash", "python") and _runs_something(b)]
GRAPHQL = [b for b in BLOCKS if b.lang == "graphql"]


def _script(block: Block) -> str:
    """The block with each skipped line replaced by a no-op that says why."""
    lines = []
    for line in block.code.splitlines():
        why = _skip_reason(line.strip())
        lines.append(f": skipped, it {why}" if why else line)
    return "\n".join(lines) + "\n"


def _command_problem(text: str) -> str | None:
    """Why ``kb ...`` does not name a real command with real options, or None."""
    words = shlex.split(text.split("#")[0])[1:]
    command = typer.main.get_command(app)
    path = ["kb"]
    # A group is a command with sub-commands; typer's own click types stay out of sight.
    while hasattr(command, "commands") and words and words[0] in command.commands:
        path.append(words[0])
        command = command.commands[words.pop(0)]
    if hasattr(command, "commands"):
        return f"{' '.join(path)} has no command {words[0] if words else '(none given)'}"
    options = {"--help"} | {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
    unknown = [w.strip("[]").split("=")[0] for w in words
               if w.strip("[]").startswith("-") and w.strip("[]").split("=")[0] not in options]
    return f"{' '.join(path)} has no option {', '.join(unknown)}" if unknown else None


def _kb_commands() -> list[str]:
    """Every ``kb ...`` the README shows: lines of bash blocks and inline code."""
    prose = FENCE.sub("", README)
    lines = [line.strip() for b in BLOCKS if b.lang == "bash" for line in b.code.splitlines()]
    return [line for line in lines if line.startswith("kb ")] + INLINE_KB.findall(prose)


def test_the_readme_shows_what_this_test_runs() -> None:
    assert len(RUN) >= 8 and GRAPHQL, [b.name for b in BLOCKS]
    shown = [line.strip() for b in BLOCKS for line in b.code.splitlines()]
    for start in SKIPPED:
        assert any(line.startswith(start) for line in shown), f"{start!r} is no longer shown"
    for line in shown:
        if line.startswith("bash "):
            assert (REPO / line.split()[1]).is_file(), f"`{line}`: no such script"
    commands = [line.split("#")[0].strip() for line in shown]
    assert "kb token create --name ci --scope write" in commands


@pytest.mark.parametrize("text", _kb_commands())
def test_every_kb_command_shown_names_real_commands_and_options(text: str) -> None:
    assert _command_problem(text) is None, f"`{text}`: {_command_problem(text)}"


#: Everything in the graph that a write can change, read in one statement: every write
#: through kb leaves change records (their number and latest time move), and tokens are
#: compared whole. Equal before and after a block: the block left the demo as loaded.
FINGERPRINT = """
CALL () { MATCH (n) RETURN count(n) AS nodes }
CALL () { MATCH ()-[r]->() RETURN count(r) AS rels }
CALL () { MATCH (c:Change) RETURN count(c) AS changes, max(c.at) AS latest }
CALL () { MATCH (t:ApiToken) WITH t ORDER BY t.id RETURN collect(properties(t)) AS tokens }
RETURN nodes, rels, changes, toString(latest) AS latest, tokens
"""

#: The fingerprint of the demo this module loaded last, while the graph still holds it.
_loaded: dict[str, object] = {}


def _fingerprint(graph: Graph) -> object:
    return [dict(r) for r in graph.query(FINGERPRINT)]


@pytest.fixture
def demo_graph(session_graph: Graph, _wiper) -> Graph:
    """The session's graph holding the demo history exactly as freshly loaded: loaded
    again (on an emptied graph) only if anything changed since it was last loaded, as a
    load costs seconds and most blocks only read."""
    graph = session_graph
    if "demo" not in _loaded or _fingerprint(graph) != _loaded["demo"]:
        _wiper()
        load_demo(graph)
        _loaded["demo"] = _fingerprint(graph)
    return graph


@pytest.fixture
def workdir(kb_env: Path, demo_graph: Graph, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's working folder over the demo history, with the CLI pointed at the test graph."""
    # the site build would otherwise fetch the scripts again into this KB_HOME
    for script in vendor.SCRIPTS:
        cached = vendor.cached_path(Path.home() / ".kb", script)
        if cached.exists():
            monkeypatch.setenv(script.variable, str(cached))
    monkeypatch.delenv("KB_SITE_DIR", raising=False)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    work = kb_env / "clone"
    shutil.copytree(REPO / "site", work / "site",
                    ignore=shutil.ignore_patterns("generated", "build"))
    (work / "data").mkdir()
    (work / "data" / "part-0.csv").write_text("customer_id,tenure_months,churned\nc1,12,false\n")
    return work


@pytest.mark.slow
@pytest.mark.parametrize("block", RUN, ids=[b.name for b in RUN])
def test_readme_block_runs_as_written_on_the_demo(block: Block, workdir: Path) -> None:
    if block.lang == "python":
        argv = [sys.executable, "-c", block.code]
    else:
        argv = ["bash", "-euo", "pipefail", "-c", _script(block)]
    done = subprocess.run(argv, cwd=workdir, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (
        f"{block.name} failed ({done.returncode}):\n{block.code}\n"
        f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}")
    assert "Traceback" not in done.stderr, done.stderr


@pytest.mark.slow
def test_readme_graphql_answers_on_the_demo(graph: Graph) -> None:
    load_demo(graph)
    api = Api(graph)
    queries = [q for b in GRAPHQL for q in b.code.splitlines() if q.strip()]
    for query in queries:
        data = api.data(query)
        assert all(data.values()), f"{query}\nanswered {data}"


def test_token_create_acts_as_you_without_actor(kb_env: Path, clean_db,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    monkeypatch.setenv("KB_USER", "lee")
    made = runner.invoke(app, ["token", "create", "--name", "ci", "--scope", "write", "--json"])
    assert made.exit_code == 0, made.output
    assert '"actor": "lee"' in made.stdout
    monkeypatch.delenv("KB_USER")
    made = runner.invoke(app, ["token", "create", "--name", "ci-2", "--scope", "read",
                               "--json"])
    assert made.exit_code == 0, made.output
    assert f'"actor": "{current_person(None)}"' in made.stdout
