"""The knowledge site against the real Neo4j: card facts, strict build, sync, a browser."""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from docs_gen import build_site, sync_site
from docs_gen.build import docs_dir
from docs_gen.escape import md
from docs_gen.slugs import slug
from docs_gen.stamp import STAMP
from kb.graph import Graph, impact
from kb.graph import pages as reads
from kb.ingest import Client

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "bench" / "out" / "model-card.png"
TEAM = "Platform/Infra ü"


def _at(day: int) -> datetime:
    return datetime(2024, 5, day, 12, 0, tzinfo=UTC)


def history(client: Client) -> None:
    """Two versions of ``churn`` trained by two people on derived data, one deployed."""
    with client.batch() as b:
        b.team("growth", description="Growth modelling")
        b.person("alice", name="Alice Liddell", email="alice@example.com", team="growth")
        b.person("bob", name="Bob", team=["growth", TEAM])
        b.dataset("customers", description="Customer table", domain="crm",
                  datasheet={"motivation": "Churn *inputs*", "composition": "a row a customer"})
        b.dataset_version("customers", "2024-05", digest="sha256:aaa111", rows=1000,
                          created_at=_at(1))
        b.dataset_version("customers-clean", "2024-05", digest="sha256:bbb222", rows=900,
                          derived_from=["customers@2024-05"], created_at=_at(2))
        b.dataset_version("holdout [eu]/v1", "1", digest="sha256:ccc333", rows=100,
                          created_at=_at(2))
        b.model("churn", description="Predicts churn", task="classification",
                intended_use="Rank customers for retention offers",
                limitations="Not for credit decisions", license="apache-2.0")
    client.own("model:churn", owner="alice")
    client.own("dataset:customers", owner="bob")
    for i, (who, auc) in enumerate([("alice", 0.81), ("bob", 0.86)], start=1):
        log_run(client, f"run-{i}", who, auc, _at(10 + i))
    client.deploy("churn", 2, environment="production", by="bob",
                  endpoint="https://api.example/churn", deployed_at=_at(20))


def log_run(client: Client, run_id: str, who: str, auc: float, at: datetime) -> None:
    client.log_run(
        id=run_id, name=f"churn {run_id}", experiment="churn", person=who,
        started_at=at, ended_at=at, params={"lr": 0.05, "depth": 6},
        metrics={"auc": auc}, command="python train.py --config churn.yaml", seed=42,
        inputs=[("customers-clean", "2024-05", "train"), ("holdout [eu]/v1", "1", "test")],
        code={"repo": "github.com/acme/churn", "commit": f"c0ffee{run_id[-1]}", "branch": "main"},
        environment={"digest": "env-1", "python": "3.11.9", "packages": ["pandas==2.2.2"]},
        models=[{"model": "churn", "framework": "sklearn"}])


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A copy of the repository's mkdocs project, so tests never touch site/."""
    target = tmp_path / "site"
    shutil.copytree(REPO / "site", target,
                    ignore=shutil.ignore_patterns("generated", "build"))
    return target


def _build(graph: Graph, site: Path):
    mermaid = os.environ.get("KB_MERMAID_JS")
    return build_site(graph, site, mermaid=Path(mermaid) if mermaid else None)


def _sync(graph: Graph, site: Path):
    mermaid = os.environ.get("KB_MERMAID_JS")
    return sync_site(graph, site, mermaid=Path(mermaid) if mermaid else None)


def test_model_card_shows_the_facts_and_the_strict_build_passes(
        graph: Graph, client: Client, site: Path) -> None:
    history(client)
    result = _build(graph, site)
    assert result.built == "full"
    card = (docs_dir(site) / "models/churn.md").read_text()
    _, front, body = card.split("---\n", 2)
    meta = yaml.safe_load(front)
    assert meta["license"] == "apache-2.0"
    assert meta["datasets"] == ["customers-clean", "holdout [eu]/v1"]
    result0 = meta["model-index"][0]
    assert result0["name"] == "churn@2"
    assert result0["results"][0]["metrics"] == [{"name": "auc", "type": "auc", "value": 0.86}]
    assert result0["results"][0]["dataset"]["name"] == "holdout [eu]/v1"
    # who trained each version, with metrics, digests and the commit to reproduce from
    assert "| [2](churn.md#version-2) | 2024-05-12 12:00 UTC | [bob](../people/bob.md) |" in body
    assert "| [1](churn.md#version-1) | 2024-05-11 12:00 UTC | [alice](../people/alice.md) |" \
        in body
    assert "auc=0\\.86" in body and "auc=0\\.81" in body
    assert "sha256:bbb222" in body and "sha256:ccc333" in body
    assert "<code>c0ffee2</code> on main" in body
    assert "git checkout c0ffee2" in body
    assert "```mermaid" in body and "production: https://api.example/churn" in body
    # names with slashes, spaces and unicode get safe slugs and escaped text
    holdout = f"datasets/{slug('holdout [eu]/v1')}.md"
    assert f"(../{holdout})" in body and "holdout \\[eu\\]/v1@1" in body
    assert (docs_dir(site) / holdout).is_file()
    assert (docs_dir(site) / f"teams/{slug(TEAM)}.md").is_file()
    # sections with no data say so
    assert "**Ethical considerations and trade-offs.** *Not recorded.*" in body
    html = (result.out_dir / "models/churn/index.html").read_text()
    assert "Predicts churn" in html and 'class="mermaid"' in html
    assert (result.out_dir / "assets/javascripts/mermaid.min.js").is_file()


def test_the_same_graph_renders_byte_identical_pages(
        graph: Graph, client: Client, tmp_path: Path, site: Path) -> None:
    history(client)
    _build(graph, site)
    other = tmp_path / "other"
    shutil.copytree(site, other, ignore=shutil.ignore_patterns("generated", "build"))
    build_site(graph, other, mkdocs=False)
    first, second = docs_dir(site), docs_dir(other)
    names = sorted(str(p.relative_to(first)) for p in first.rglob("*.md"))
    assert names == sorted(str(p.relative_to(second)) for p in second.rglob("*.md"))
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_sync_rewrites_exactly_the_affected_pages(
        graph: Graph, client: Client, site: Path) -> None:
    history(client)
    _build(graph, site)
    assert _sync(graph, site).written == []

    untouched = site / "build/people/bob/index.html"
    before = untouched.stat().st_mtime_ns
    log_run(client, "run-3", "alice", 0.9, _at(25))
    result = _sync(graph, site)
    assert result.written == sorted([
        "index.md",                                   # counts, recently trained
        "models/index.md", "models/churn.md",         # the new version
        "datasets/customers-clean.md",                # one more consuming run
        "datasets/customers.md",                      # upstream: churn@3 is downstream
        f"datasets/{slug('holdout [eu]/v1')}.md",
        "people/index.md", "people/alice.md",         # alice trained it
        "teams/growth.md",                            # alice's team: churn's latest version
        "runs/run-3.md",                              # the run's own page
        "experiments/churn.md", "experiments/index.md",  # its leaderboard and the counts
        "changes.md",                                 # the run's and the version's records
    ]), result.written
    assert len(result.written) == 13
    assert result.built == "partial"
    card = (docs_dir(site) / "models/churn.md").read_text()
    assert "| [3](churn.md#version-3) | 2024-05-25 12:00 UTC | [alice](../people/alice.md) |" \
        in card
    assert "auc=0.9" in (result.out_dir / "models/churn/index.html").read_text()
    assert untouched.stat().st_mtime_ns == before  # a page nobody changed is not rebuilt

    again = _sync(graph, site)
    assert again.written == [] and again.built == "none"


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_a_partial_rebuild_equals_a_full_build(
        graph: Graph, client: Client, tmp_path: Path, site: Path) -> None:
    history(client)
    _build(graph, site)
    log_run(client, "run-3", "alice", 0.9, _at(25))
    client.note("model:churn", "Retrained on May data", by="bob")
    synced = _sync(graph, site)
    assert synced.built == "partial" and "models/churn.md" in synced.written
    fresh = tmp_path / "fresh"
    shutil.copytree(site, fresh, ignore=shutil.ignore_patterns("generated", "build"))
    full = _build(graph, fresh)
    assert full.built == "full"
    # the same Markdown, hence the same HTML, search index, tags page and sitemap
    pages = {name for name in _tree(docs_dir(site)) if name.endswith(".md")}
    assert pages == {name for name in _tree(docs_dir(fresh)) if name.endswith(".md")}
    got, want = _tree(synced.out_dir), _tree(full.out_dir)
    assert got.keys() == want.keys()
    # the stamp holds the time of each build; both include the same graph state
    assert _stamp_line(got.pop(str(STAMP)))[1] == _stamp_line(want.pop(str(STAMP)))[1]
    differ = [name for name in want if got[name] != want[name]]
    assert differ == [], differ
    search = (synced.out_dir / "search/search_index.json").read_text()
    assert "Retrained on May data" in search and "holdout" in search
    assert "churn" in (synced.out_dir / "tags/index.html").read_text()


def test_departed_person_page_lists_what_needs_a_new_owner(
        graph: Graph, client: Client, site: Path) -> None:
    history(client)
    client.person("alice", active=False, left_at=_at(28))
    _build(graph, site)
    page = (docs_dir(site) / "people/alice.md").read_text()
    assert '!!! warning "Departed"' in page
    assert "## Needs a new owner\n\n- [churn](../models/churn.md) (model, owner)" in page
    home = (docs_dir(site) / "index.md").read_text()
    left = home.split("### Their owner left", 1)[1].split("###", 1)[0]
    assert "[churn](models/churn.md) (model)" in left
    assert "last owned by [alice](people/alice.md)" in left


@pytest.fixture
def served(graph: Graph, client: Client, site: Path) -> Iterator[str]:
    history(client)
    result = _build(graph, site)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(result.out_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _chromium(*args: str) -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("Debian's chromium is needed: apt-get install -y chromium")
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
             "--virtual-time-budget=15000", *args],
            capture_output=True, text=True, timeout=120, check=True)
    return out.stdout


def test_a_real_browser_renders_the_model_card(served: str) -> None:
    url = f"{served}/models/churn/"
    dom = _chromium("--dump-dom", url)
    assert "<title>churn - ML team knowledge base</title>" in dom
    assert 'href="../../people/bob/"' in dom and "Trained by" in dom
    start = dom.index('class="mermaid"')
    assert "<svg" in dom[start:start + 5000], "mermaid did not render the lineage as SVG"
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    _chromium(f"--screenshot={SCREENSHOT}", "--window-size=1280,2000", url)
    assert SCREENSHOT.stat().st_size > 10_000
    print(f"screenshot: {SCREENSHOT}")


def test_a_real_browser_shows_the_generated_line_in_the_footer(served: str) -> None:
    dom = _chromium("--dump-dom", f"{served}/datasets/customers/")
    assert "Downstream impact" in dom
    footer = dom[dom.index("data-kb-stamp"):]
    assert re.match(r'data-kb-stamp="?"?>Generated \S+Z from the graph as of \S+Z<', footer), \
        footer[:200]


def _section(page: str, heading: str) -> str:
    return page.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_a_raw_datasheet_shows_the_whole_downstream_impact(
        graph: Graph, client: Client, site: Path) -> None:
    """customers -> customers-clean -> churn v1, v2; v2 in production, v1 in staging."""
    history(client)
    client.deploy("churn", 1, environment="staging", by="alice", deployed_at=_at(21))
    result = _build(graph, site)
    raw = (docs_dir(site) / f"datasets/{slug('customers')}.md").read_text()
    impact_section = _section(raw, "Downstream impact")
    items = impact(graph, "customers")
    deployments = [i for i in items if i.kind == "DEPLOYMENT"]
    versions = [i for i in items if i.kind == "MODEL_VERSION"]
    assert {(i.environment, i.version) for i in deployments} == {("production", "2"),
                                                                 ("staging", "1")}
    assert {i.key for i in versions} == {"churn@1", "churn@2"}
    assert "**Active deployments that depend on it: 2** (1 in production):" in impact_section
    assert "**Model versions trained on it or on data derived from it: 2**:" in impact_section
    rows = [line for line in impact_section.splitlines() if line.startswith("- ")]
    assert len(rows) == len(items)  # exactly impact's items, no more
    card = "../models/churn.md"
    path = f"from customers@2024\\-05 through [customers\\-clean]({slug('customers-clean')}.md)"
    production, staging = (next(i for i in deployments if i.environment == env)
                           for env in ("production", "staging"))
    # each model version links to its own section of the card
    assert rows[:2] == [  # production first
        f"- **production**: [churn@2]({card}#version-2), deployment {md(production.key)} "
        f"since 2024-05-20 12:00 UTC; {production.hops} hops {path}",
        f"- **staging**: [churn@1]({card}#version-1), deployment {md(staging.key)} since "
        f"2024-05-21 12:00 UTC; {staging.hops} hops {path}"]
    assert rows[2:] == [f"- [{i.key}]({card}#version-{i.version}): {i.hops} hops {path}"
                        for i in versions]
    # one step down and one step up, each linked to its datasheet
    assert f"- [customers\\-clean]({slug('customers-clean')}.md)" in _section(
        raw, "Derived datasets")
    assert "Nothing recorded (raw data)." in _section(raw, "Upstream")
    derived = (docs_dir(site) / f"datasets/{slug('customers-clean')}.md").read_text()
    assert f"- [customers]({slug('customers')}.md)" in _section(derived, "Upstream")
    assert "None recorded." in _section(derived, "Derived datasets")
    # the derived datasheet reaches the same deployments, two hops nearer
    assert "**Active deployments that depend on it: 2** (1 in production):" in derived
    html = (result.out_dir / f"datasets/{slug('customers')}/index.html").read_text()
    assert f'href="../{slug("customers-clean")}/"' in html
    assert 'href="../../models/churn/#version-2"' in html


_STAMP = re.compile(r'var text = "Generated (\S+) from the graph as of (\S+)";')


def _stamp_line(script: bytes) -> tuple[str, str]:
    found = _STAMP.search(script.decode())
    assert found, script
    return found[1], found[2]


def test_every_page_says_when_it_was_generated_and_from_which_graph_state(
        graph: Graph, client: Client, site: Path) -> None:
    history(client)
    result = _build(graph, site)
    mark = graph.read(reads.watermark)
    assert result.watermark == mark and result.generated is not None
    generated, as_of = _stamp_line((result.out_dir / STAMP).read_bytes())
    assert as_of == mark.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert datetime.fromisoformat(generated) == result.generated.replace(microsecond=0)
    pages = sorted(result.out_dir.rglob("index.html"))
    assert len(pages) > 10
    for page in pages:
        html = page.read_text()
        assert "data-kb-stamp" in html, page
        depth = len(page.relative_to(result.out_dir).parts) - 1
        assert f'<script src="{"../" * depth}{STAMP.as_posix()}"></script>' in html, page

    # a sync with no change rewrites no page, but says the site was checked just now
    page = result.out_dir / "datasets/customers/index.html"
    before = page.stat().st_mtime_ns
    again = _sync(graph, site)
    assert again.written == [] and again.built == "none"
    assert page.stat().st_mtime_ns == before
    later, same = _stamp_line((result.out_dir / STAMP).read_bytes())
    assert same == as_of and later >= generated

    # a change moves the watermark to the change's stamp
    log_run(client, "run-3", "alice", 0.9, _at(25))
    synced = _sync(graph, site)
    assert synced.built == "partial"
    _, newer = _stamp_line((result.out_dir / STAMP).read_bytes())
    assert newer >= as_of
    assert newer == graph.read(reads.watermark).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
