"""The departure drill on the demo: the lead data scientist has left; a newcomer answers,
from the built site read in headless Chromium and from the CLI in an 80-column terminal,
what runs in production, who trained it, with what, on which data, what a bad dataset
affects, what the departed person held and was working on, and what nobody owns.

The truth each answer is held to is read here with plain Cypher, not through kb's own
questions, so that a wrong question cannot agree with itself. Screenshots of every page
read go to ``KB_SCREENSHOTS`` when it is set.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from docs_gen.build import build_site
from docs_gen.slugs import slug
from kb.graph import Graph
from kb.ingest.demo import load_demo
from kb.localdb import Connection

pytestmark = pytest.mark.slow  # builds the demo site

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
DEPARTED = "dana"
MODEL = "churn"
WIDTHS = (1400, 400)

# -- the truth, in plain Cypher -----------------------------------------------------------

PRODUCTION = """
MATCH (d:Deployment {status: 'ACTIVE'})-[:SERVES]->(v:ModelVersion)
OPTIONAL MATCH (p:Person)-[:DEPLOYED]->(d)
OPTIONAL MATCH (r:Run)-[:PRODUCED]->(v)
OPTIONAL MATCH (t:Person)-[:TRAINED]->(r)
OPTIONAL MATCH (o)-[e:OWNS]->(:Model {name: v.model}) WHERE e.until IS NULL
RETURN d.environment AS environment, v.model AS model, v.version AS version,
       p.handle AS deployer, t.handle AS trainer,
       collect(DISTINCT coalesce(o.handle, o.name)) AS owners
ORDER BY environment, model
"""

VERSIONS = """
MATCH (v:ModelVersion {model: $model})<-[:PRODUCED]-(r:Run)<-[:TRAINED]-(p:Person)
OPTIONAL MATCH (r)-[:AT_COMMIT]->(c:CodeVersion)
OPTIONAL MATCH (r)-[:USED]->(dv:DatasetVersion)
RETURN v.version AS version, r.id AS run, p.handle AS trainer, r.params AS params,
       r.metrics AS metrics, c.commit AS commit, r.command AS command,
       collect(DISTINCT dv.dataset + '@' + dv.version) AS inputs
ORDER BY toInteger(v.version)
"""

# A raw dataset version with an active production deployment downstream, the deepest one.
UPSTREAM_OF_PRODUCTION = """
MATCH (raw:DatasetVersion)
WHERE NOT EXISTS { MATCH (:Run)-[:PRODUCED]->(raw) }
MATCH (raw) ((:DatasetVersion)<-[:USED]-(:Run)-[:PRODUCED]->(:DatasetVersion)){1,6}
      (last:DatasetVersion)<-[:USED]-(:Run)-[:PRODUCED]->(v:ModelVersion)
      <-[:SERVES]-(d:Deployment {status: 'ACTIVE', environment: 'production'})
RETURN raw.dataset AS dataset, raw.version AS version,
       collect(DISTINCT v.model + '@' + v.version) AS served
ORDER BY size(served) DESC, dataset, version
LIMIT 1
"""

HELD = """
MATCH (:Person {handle: $handle})-[e:OWNS]->(a) WHERE e.until IS NULL
RETURN coalesce(a.name, a.id) AS asset ORDER BY asset
"""

UNFINISHED_OR_FAILED = """
MATCH (:Person {handle: $handle})-[:TRAINED]->(r:Run)
WHERE r.status IN ['FAILED', 'ABORTED', 'KILLED', 'RUNNING', 'SCHEDULED']
RETURN r.id AS run, r.status AS status ORDER BY run
"""

NOTES = "MATCH (:Person {handle: $handle})-[:WROTE]->(n:Note) RETURN n.body AS body"

OWNER_LEFT = """
MATCH (a) WHERE (a:Model OR a:Dataset) AND EXISTS { MATCH ()-[:OWNS]->(a) }
  AND NOT EXISTS { MATCH (o)-[e:OWNS]->(a) WHERE e.until IS NULL
                   AND (o:Team OR coalesce(o.active, o.leftAt IS NULL)) }
RETURN a.name AS name ORDER BY name
"""


@dataclass(frozen=True)
class Truth:
    production: list[dict[str, Any]]
    versions: list[dict[str, Any]]
    upstream: dict[str, Any]
    held: list[str]
    unfinished: list[dict[str, Any]]
    notes: list[str]
    owner_left: list[str]


@pytest.fixture(scope="module")
def demo(neo4j_conn: Connection, _wiper, session_graph: Graph) -> Iterator[Graph]:
    _wiper()
    load_demo(session_graph)
    yield session_graph
    _wiper()


@pytest.fixture(scope="module")
def truth(demo: Graph) -> Truth:
    def rows(query: str, **params: Any) -> list[dict[str, Any]]:
        return demo.query(query, **params)

    versions = rows(VERSIONS, model=MODEL)
    for v in versions:
        v["params"], v["metrics"] = json.loads(v["params"]), json.loads(v["metrics"])
    (upstream,) = rows(UPSTREAM_OF_PRODUCTION)
    found = Truth(
        production=rows(PRODUCTION), versions=versions, upstream=upstream,
        held=[r["asset"] for r in rows(HELD, handle=DEPARTED)],
        unfinished=rows(UNFINISHED_OR_FAILED, handle=DEPARTED),
        notes=[r["body"] for r in rows(NOTES, handle=DEPARTED)],
        owner_left=[r["name"] for r in rows(OWNER_LEFT)])
    # the drill is only a drill if the demo holds each case
    assert found.production and len(found.versions) >= 3 and found.upstream["served"]
    assert found.held and found.unfinished and found.notes and found.owner_left
    return found


# -- the site, read in a browser ----------------------------------------------------------

class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site_url(demo: Graph, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    site = tmp_path_factory.mktemp("drill") / "site"
    shutil.copytree(REPO / "site", site, ignore=shutil.ignore_patterns("generated", "build"))
    mermaid = os.environ.get("KB_MERMAID_JS")
    result = build_site(demo, site, mermaid=Path(mermaid) if mermaid else None)
    handler = functools.partial(_Quiet, directory=str(result.out_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# The text under a heading, up to the next heading of the same or a higher level.
_SECTION = """
(id) => {
  const head = document.getElementById(id);
  if (!head) return null;
  const level = Number(head.tagName.slice(1));
  const parts = [head.innerText];
  let html = head.outerHTML;
  for (let n = head.nextElementSibling; n; n = n.nextElementSibling) {
    const m = /^H([1-6])$/.exec(n.tagName);
    if (m && Number(m[1]) <= level) break;
    parts.push(n.innerText);
    html += n.outerHTML;
  }
  return {text: parts.join('\\n'), html};
}
"""

_OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


class Reader:
    """Opens site pages at each width, keeps a screenshot, and hands back the article."""

    def __init__(self, browser: Any, base: str, shots: Path | None) -> None:
        self.base, self.shots = base, shots
        self.pages = {}
        for width in WIDTHS:
            context = browser.new_context(viewport={"width": width, "height": 1000})
            # offline: the theme's web fonts would only time out
            context.route(lambda url: not url.startswith(base), lambda route: route.abort())
            self.pages[width] = context.new_page()

    def open(self, path: str) -> Any:
        """The page at 1400 px, after checking it also reads at 400 px without the page
        itself scrolling sideways (wide tables scroll inside their own box)."""
        for width, page in sorted(self.pages.items()):
            page.goto(f"{self.base}/{path}", wait_until="load")
            if self.shots is not None:
                name = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"
                page.screenshot(path=str(self.shots / f"{name}-{width}.png"), full_page=True)
            if width == min(WIDTHS):
                assert page.evaluate(_OVERFLOW) <= 1, f"{path} scrolls sideways at {width} px"
        return self.pages[max(WIDTHS)]

    def article(self, path: str) -> str:
        return self.open(path).locator("article").inner_text()

    def section(self, path: str | None, anchor: str) -> dict[str, str]:
        page = self.open(path) if path else self.pages[max(WIDTHS)]
        found = page.evaluate(_SECTION, anchor)
        assert found is not None, f"{path}: no #{anchor}"
        return found


@pytest.fixture(scope="module")
def reader(site_url: str) -> Iterator[Reader]:
    from playwright.sync_api import sync_playwright

    shots = os.environ.get("KB_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield Reader(browser, site_url, Path(shots) if shots else None)
        finally:
            browser.close()


def _row(text: str, *needles: str) -> str:
    """The one line of ``text`` holding every needle (a table row read as text)."""
    lines = [line for line in text.splitlines() if all(n in line for n in needles)]
    assert lines, f"no line with {needles}"
    return lines[0]


def test_site_q1_what_runs_in_production(reader: Reader, truth: Truth) -> None:
    text = reader.article("production/")
    for d in truth.production:
        row = _row(text, f"{d['model']}@{d['version']}", d["environment"])
        for person in (d["deployer"], d["trainer"], *d["owners"]):
            assert person in row, (person, row)


def test_site_q2_to_5_and_11_every_version_of_a_card(reader: Reader, truth: Truth) -> None:
    card = f"models/{slug(MODEL)}/"
    top = reader.article(card).split("\n## ", 1)[0]
    for d in truth.production:
        if d["model"] == MODEL:
            # the card leads with what runs where
            assert d["environment"] in top and d["version"] in top, top
    for v in truth.versions:
        section = reader.section(None, f"version-{v['version']}")
        text, html = section["text"], section["html"]
        assert v["trainer"] in text and v["run"] in text
        for key, value in v["params"].items():
            assert key in text and str(value) in text, (v["version"], key)
        for key, value in v["metrics"].items():
            assert key in text and str(value) in text, (v["version"], key)
        assert v["commit"] in html, (v["version"], "commit")
        for ref in v["inputs"]:
            assert ref.split("@")[0] in text, (v["version"], ref)
        # Q11: the recipe carries that version's commit
        assert "git checkout" in text or "git switch" in text, (v["version"], "reproduce")
        # the run id leads to the run's own page
        assert f'runs/{v["run"]}' in html, (v["version"], "run link")
    page = reader.open(card)
    assert page.locator("canvas, svg.kb-chart, .kb-chart").count() >= 1, "no metrics chart"


def test_site_q6_a_raw_dataset_names_what_it_feeds_in_production(
        reader: Reader, truth: Truth) -> None:
    up = truth.upstream
    text = reader.article(f"datasets/{slug(up['dataset'])}/")
    for served in up["served"]:
        assert served in text, served


def test_site_q7_what_the_departed_person_held_and_was_working_on(
        reader: Reader, truth: Truth) -> None:
    page = reader.open(f"people/{slug(DEPARTED)}/")
    text = page.locator("article").inner_text()
    html = page.locator("article").inner_html()
    for asset in truth.held:
        assert asset in text, asset
    for run in truth.unfinished:
        assert run["run"] in text and f"runs/{run['run']}" in html, run
    for body in truth.notes:
        first_words = re.sub(r"[`*]", "", body).split(".")[0][:30]
        assert first_words in text, body


def test_site_q8_orphans_split_with_the_owner_left(reader: Reader, truth: Truth) -> None:
    text = reader.article("")
    left = text.split("owner left", 1)
    assert len(left) == 2, "the home page names the assets whose owner left"
    for name in truth.owner_left:
        assert name in left[1], name


def test_site_q12_search_finds_the_named_model_before_what_mentions_it(
        reader: Reader) -> None:
    page = reader.open("")
    page.locator("input.md-search__input").click()
    page.keyboard.type(MODEL)
    # results carry the query they answer (?h=...): wait for the whole name's
    page.wait_for_selector(f'.md-search-result__item > a[href$="?h={MODEL}"]', timeout=30_000)
    found = [a.get_attribute("href") or "" for a in
             page.locator(".md-search-result__item > a").all()]
    models = [i for i, href in enumerate(found) if "/models/" in href]
    others = [i for i, href in enumerate(found) if "/models/" not in href]
    exact = next(i for i, href in enumerate(found) if f"/models/{slug(MODEL)}/" in href)
    # models whose names share the word may tie with it; data and runs come after
    assert exact in models and (not others or exact < min(others)), found


# -- the CLI, in a real 80-column terminal ------------------------------------------------

KB = str(Path(sys.executable).with_name("kb"))
_TMUX_CONF = "set -g history-limit 100000\nset -g remain-on-exit on\n"


@pytest.fixture(scope="module")
def terminal(demo: Graph, neo4j_conn: Connection, tmp_path_factory: pytest.TempPathFactory):
    """Runs ``kb ARGS`` in a tmux pane 80 columns wide; returns what the pane shows."""
    if shutil.which("tmux") is None:
        pytest.fail("tmux is needed to read the CLI in a real terminal")
    home = tmp_path_factory.mktemp("drill-terminal")
    conf = home / "tmux.conf"
    conf.write_text(_TMUX_CONF)
    env = {"KB_NEO4J_URI": neo4j_conn.uri, "KB_NEO4J_USER": neo4j_conn.user,
           "KB_NEO4J_PASSWORD": str(neo4j_conn.password), "KB_HOME": str(home / "kb"),
           "TERM": "xterm-256color"}
    sockets = iter(range(1_000_000))

    def run(*args: str) -> str:
        socket = str(home / f"tmux-{next(sockets)}.sock")  # one server per command

        def tmux(*argv: str) -> str:
            return subprocess.run(["tmux", "-S", socket, "-f", str(conf), *argv], check=True,
                                  capture_output=True, text=True).stdout

        # the shell prints kb's exit status under its output once it ends
        script = shlex.join([KB, *args]) + '; echo "kb-exit=$?"'
        command = " ".join(["env", "-u", "COLUMNS", "-u", "LINES",
                            *(f"{k}={v}" for k, v in env.items()), "sh", "-c", shlex.quote(script)])
        tmux("new-session", "-d", "-x", "80", "-y", "50", command)
        try:
            deadline = time.monotonic() + 180
            while True:
                shown = tmux("capture-pane", "-p", "-S", "-", "-E", "-")
                ended = re.search(r"^kb-exit=(\d+)$", shown, re.MULTILINE)
                if ended:
                    break
                assert time.monotonic() < deadline, f"kb {' '.join(args)} did not finish"
                time.sleep(0.1)
        finally:
            tmux("kill-server")
        status, shown = ended.group(1), shown[:ended.start()].rstrip() + "\n"
        assert status == "0", f"kb {' '.join(args)} exited {status}:\n{shown}"
        assert max(len(line) for line in shown.splitlines()) <= 80
        return shown

    return run


def _block(text: str, *needles: str) -> str:
    """The card or table row block holding every needle: lines up to a blank line."""
    for block in re.split(r"\n\s*\n", text):
        if all(n in block for n in needles):
            return block
    raise AssertionError(f"no block with {needles}:\n{text}")


def test_cli_q1_what_runs_in_production(terminal, truth: Truth) -> None:
    shown = terminal("prod")
    for d in truth.production:
        block = _block(shown, f"{d['model']}@{d['version']}", d["environment"])
        for person in (d["deployer"], d["trainer"], *d["owners"]):
            assert person in block, (person, block)


def test_cli_q2_3_who_trained_each_version_with_what(terminal, truth: Truth) -> None:
    shown = terminal("who-trained", MODEL)
    for v in truth.versions:
        assert v["run"] in shown and v["trainer"] in shown
        assert v["commit"][:10] in shown
        for key, value in v["params"].items():
            assert f"{key}" in shown and str(value) in shown


def test_cli_q6_impact_leads_with_production_and_owners(terminal, truth: Truth) -> None:
    up = truth.upstream
    shown = terminal("impact", f"dataset:{up['dataset']}@{up['version']}")
    for served in up["served"]:
        assert served in shown, served
    owners = {o for d in truth.production for o in d["owners"]
              if f"{d['model']}@{d['version']}" in up["served"]}
    for owner in owners:
        assert owner in shown, owner
    first = min(shown.index(s) for s in up["served"])
    assert first < shown.find("staging") or "staging" not in shown


def test_cli_q7_handover_and_the_runs_left_behind(terminal, truth: Truth) -> None:
    shown = terminal("handover", DEPARTED)
    for asset in truth.held:
        assert asset in shown, asset
    runs = terminal("runs", "--person", DEPARTED, "--status", "FAILED")
    for run in truth.unfinished:
        if run["status"] == "FAILED":
            assert run["run"] in runs, run


def test_cli_q8_orphans(terminal, truth: Truth) -> None:
    shown = terminal("orphans")
    for name in truth.owner_left:
        assert name in shown, name


def test_cli_q12_search_finds_the_exact_name_first(terminal) -> None:
    shown = terminal("search", MODEL)
    refs = re.findall(r"\b(model|dataset|person|team|experiment|run):([\w@.-]+)", shown)
    assert refs and refs[0] == ("model", MODEL), shown
