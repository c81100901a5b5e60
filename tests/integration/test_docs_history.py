"""Every entity page ends with its History, and the site has a Recent changes page.

A history written at known times by known people must show on the card (merged with its
versions' and deployments'), the datasheet (with its versions'), a person's page and the
Recent changes page, line for line; a sync after an ownership transfer re-renders the card.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from docs_gen import build_site, sync_site
from docs_gen.build import docs_dir
from docs_gen.collect import collect
from docs_gen.render import render
from kb.domain import Label
from kb.graph import Graph
from kb.graph import pages as reads
from kb.ingest import Client

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(os.environ.get("KB_HISTORY_SHOTS", "/tmp/history-shots"))

REPO = Path(__file__).resolve().parents[2]


def _at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 3, day, hour, 30, tzinfo=UTC)


def history(graph: Graph) -> None:
    """alice (a person kb knows) writes churn and its data; a pipeline writes the rest."""
    alice = Client(graph, actor="alice", default_person="alice")
    bot = Client(graph, actor="pipeline-bot")
    b = alice.builder()
    b.person("alice", name="Alice")
    b.person("bob", name="Bob")
    b.dataset("customers", description="All customers")
    b.dataset_version("customers", "2026-03", rows=10)
    b.model("churn", description="Predicts churn")
    b.own("model:churn", owner="person:alice", since=_at(1))
    alice.write(b, now=_at(1))
    b = bot.builder()
    b.run(id="r1", experiment="churn", person="alice", status="RUNNING",
          inputs=[("customers", "2026-03", "train")])
    bot.write(b, now=_at(2))
    b = bot.builder()
    b.run(id="r1", status="COMPLETED", metrics={"auc": 0.8})
    b.model_version("churn", version=1, run_id="r1", aliases=["champion"])
    bot.write(b, now=_at(3))
    b = bot.builder()
    b.run(id="r2", experiment="churn", person="alice", status="COMPLETED")
    b.model_version("churn", version=2, run_id="r2", aliases=["champion"])
    bot.write(b, now=_at(4))
    b = alice.builder()
    b.deploy("churn", "2", environment="production", by="alice", deployed_at=_at(5),
             id="churn-prod")
    b.dataset("customers", description="Every customer, deduplicated")
    alice.write(b, now=_at(5))
    b = alice.builder()
    b.person("alice", name="Alice Liddell")
    alice.write(b, now=_at(6))


def _pages(graph: Graph) -> dict[str, str]:
    return {p.path: render(p) for p in collect(graph)}


def _section(page: str, heading: str) -> str:
    start = page.index(f"## {heading}\n")
    end = page.find("\n## ", start + 1)
    return page[start:] if end < 0 else page[start:end]


def _rows(section: str) -> list[str]:
    return [line for line in section.splitlines() if line.startswith("| ")
            and not line.startswith(("| When", "| Time"))]


def test_history_shows_on_the_card_the_datasheet_and_a_person_page(graph: Graph) -> None:
    history(graph)
    pages = _pages(graph)
    card = _section(pages["models/churn.md"], "History")
    assert "Every change, newest first" in card and "(../changes.md)" in card
    assert _rows(card) == [
        "| 2026-03-05 09:30 UTC | [alice](../people/alice.md) | sdk | deployment"
        " <code>churn\\-prod</code> of version [2](churn.md#version-2): created |",
        "| 2026-03-04 09:30 UTC | pipeline\\-bot | sdk | alias champion: churn@1 → churn@2 |",
        "| 2026-03-04 09:30 UTC | pipeline\\-bot | sdk | version [1](churn.md#version-1):"
        " aliases champion → none |",
        "| 2026-03-04 09:30 UTC | pipeline\\-bot | sdk | version [2](churn.md#version-2):"
        " created |",
        "| 2026-03-03 09:30 UTC | pipeline\\-bot | sdk | alias champion → churn@1 |",
        "| 2026-03-03 09:30 UTC | pipeline\\-bot | sdk | version [1](churn.md#version-1):"
        " created |",
        "| 2026-03-01 09:30 UTC | [alice](../people/alice.md) | sdk | created; owner alice"
        " added |",
    ]
    sheet = _section(pages["datasets/customers.md"], "History")
    assert _rows(sheet) == [
        "| 2026-03-05 09:30 UTC | [alice](../people/alice.md) | sdk | description All"
        " customers → Every customer, deduplicated |",
        "| 2026-03-01 09:30 UTC | [alice](../people/alice.md) | sdk | version 2026\\-03:"
        " created |",
        "| 2026-03-01 09:30 UTC | [alice](../people/alice.md) | sdk | created |",
    ]
    person = _section(pages["people/alice.md"], "History")
    assert _rows(person) == [
        "| 2026-03-06 09:30 UTC | [alice](alice.md) | sdk | name Alice → Alice Liddell |",
        "| 2026-03-01 09:30 UTC | [alice](alice.md) | sdk | created |",
    ]
    run = _section(pages["runs/r1.md"], "History")
    assert _rows(run) == [
        "| 2026-03-03 09:30 UTC | pipeline\\-bot | sdk | metrics none → \\{\"auc\":0\\.8\\};"
        " status RUNNING → COMPLETED |",
        "| 2026-03-02 09:30 UTC | pipeline\\-bot | sdk | created |",
    ]
    assert _rows(_section(pages["experiments/churn.md"], "History")) == [
        "| 2026-03-02 09:30 UTC | pipeline\\-bot | sdk | created |"]


def test_a_page_lists_only_its_newest_ten_changes(graph: Graph) -> None:
    client = Client(graph, actor="tester")
    for day in range(1, 13):
        b = client.builder()
        b.model("churn", description=f"take {day}")
        client.write(b, now=_at(day))
    card = _section(_pages(graph)["models/churn.md"], "History")
    rows = _rows(card)
    assert "The 10 newest changes, newest first" in card
    assert len(rows) == reads.HISTORY_SHOWN
    assert rows[0].startswith("| 2026-03-12 09:30 UTC | tester | sdk | description take 11 →"
                              " take 12 |")
    assert rows[-1].startswith("| 2026-03-03 09:30 UTC |")


def test_recent_changes_groups_by_day_and_links_each_entity(graph: Graph) -> None:
    history(graph)
    page = _pages(graph)["changes.md"]
    assert "The 17 newest changes across the graph, newest first. Times are UTC." in page
    days = [line for line in page.splitlines() if line.startswith("## ")]
    assert days == ["## 2026-03-06", "## 2026-03-05", "## 2026-03-04", "## 2026-03-03",
                    "## 2026-03-02", "## 2026-03-01"]
    assert _rows(_section(page, "2026-03-05")) == [
        "| 09:30 UTC | Deployment [churn\\-prod](models/churn.md#version-2) |"
        " [alice](people/alice.md) | sdk | created |",
        "| 09:30 UTC | Dataset [customers](datasets/customers.md) | [alice](people/alice.md) |"
        " sdk | description All customers → Every customer, deduplicated |",
    ]
    assert _rows(_section(page, "2026-03-04")) == [
        "| 09:30 UTC | Model [churn](models/churn.md) | pipeline\\-bot | sdk |"
        " alias champion: churn@1 → churn@2 |",
        "| 09:30 UTC | ModelVersion [churn@1](models/churn.md#version-1) | pipeline\\-bot |"
        " sdk | aliases champion → none |",
        "| 09:30 UTC | ModelVersion [churn@2](models/churn.md#version-2) | pipeline\\-bot |"
        " sdk | created |",
        "| 09:30 UTC | Run [r2](runs/r2.md) | pipeline\\-bot | sdk | created |",
    ]
    assert "| 09:30 UTC | DatasetVersion [customers@2026\\-03](datasets/customers.md) |" in page


def test_only_the_newest_changes_make_the_recent_changes_page(graph: Graph) -> None:
    client = Client(graph, actor="tester")
    b = client.builder()
    for n in range(reads.RECENT_CHANGES + 5):
        b.person(f"p{n:03d}")
    client.write(b, now=_at(1))
    page = _pages(graph)["changes.md"]
    assert f"The {reads.RECENT_CHANGES} newest changes" in page
    assert len(_rows(page)) == reads.RECENT_CHANGES


# -- cost ---------------------------------------------------------------------------------

def _hits(plan: Any) -> int:
    """db hits summed over a profiled plan."""
    return plan.get("dbHits", 0) + sum(_hits(c) for c in plan.get("children", []))


def _profiled(graph: Graph, statement: str, **params: Any) -> int:
    def work(tx: Any) -> int:
        result = tx.run("PROFILE " + statement, **params)
        return _hits(result.consume().profile)
    return graph.read(work)


def _unrelated(graph: Graph, models: int) -> None:
    """Models, runs and versions nobody's page here shows, written before the history."""
    client = Client(graph, actor="loader")
    b = client.builder()
    for n in range(models):
        b.run(id=f"other-run-{n}", experiment="other", person="loader")
        b.model_version(f"other-{n}", version=1, run_id=f"other-run-{n}")
        if len(b) >= 200:
            client.write(b, now=_at(1) - timedelta(days=1))
            b = client.builder()
    client.write(b, now=_at(1) - timedelta(days=1))


def _costs(graph: Graph) -> dict[str, int]:
    since = _at(4)
    return {
        "card": _profiled(graph, reads._PAGE_HISTORY[Label.MODEL], keys=["churn"],
                          kind="Model", limit=reads.HISTORY_SHOWN),
        "datasheet": _profiled(graph, reads._PAGE_HISTORY[Label.DATASET], keys=["customers"],
                               kind="Dataset", limit=reads.HISTORY_SHOWN),
        "person": _profiled(graph, reads._PAGE_HISTORY[Label.PERSON], keys=["alice"],
                            kind="Person", limit=reads.HISTORY_SHOWN),
        "since": _profiled(graph, reads.CHANGES_SINCE, since=since),
        "targets": _profiled(graph, reads.TARGETS, refs=[
            {"kind": k, "key": key} for k, key in (
                ("Model", "churn"), ("ModelVersion", "churn@2"), ("Deployment", "churn-prod"),
                ("DatasetVersion", "customers@2026-03"), ("Person", "alice"),
                ("Run", "r1"), ("Experiment", "churn"), ("Person", "pipeline-bot"))]),
    }


def test_history_reads_cost_the_same_however_much_else_the_graph_holds(
        graph: Graph) -> None:
    _unrelated(graph, 20)
    history(graph)
    small = _costs(graph)
    graph.write(lambda tx: tx.run("MATCH (n) DETACH DELETE n").consume())
    _unrelated(graph, 400)
    history(graph)
    large = _costs(graph)
    print(f"db hits with 20 unrelated models: {small}; with 400: {large}")
    assert all(v > 0 for v in small.values()), small
    for name, hits in small.items():
        assert large[name] <= hits + 8, (name, small, large)


# -- the built site ------------------------------------------------------------------------

@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A copy of the repository's mkdocs project, so tests never touch site/."""
    target = tmp_path / "site"
    shutil.copytree(REPO / "site", target, ignore=shutil.ignore_patterns("generated", "build"))
    return target


def _mermaid() -> Path | None:
    raw = os.environ.get("KB_MERMAID_JS")
    return Path(raw) if raw else None


def _shoot(out_dir: Path, paths: list[str]) -> dict[str, int]:
    """Screenshots of the built pages at a wide and a narrow width; each page's widest
    element beyond the viewport, in pixels, at each width (0: nothing overflows)."""
    import functools
    import http.server
    import threading

    from playwright.sync_api import sync_playwright

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(out_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    overflow = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            context = browser.new_context()
            context.route(lambda url: not url.startswith(base), lambda route: route.abort())
            page = context.new_page()
            for path in paths:
                for width in (1400, 400):
                    page.set_viewport_size({"width": width, "height": 1000})
                    page.goto(f"{base}/{path}", wait_until="load")
                    if page.locator("h2#history").count():
                        page.locator("h2#history").scroll_into_view_if_needed()
                        page.evaluate("document.getElementById('history').scrollIntoView()")
                    name = path.strip("/").replace("/", "-") or "home"
                    page.screenshot(path=str(SHOTS / f"{name}-{width}.png"))
                    overflow[f"{path}@{width}"] = page.evaluate(
                        "document.documentElement.scrollWidth - window.innerWidth")
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return overflow


@pytest.mark.slow
def test_a_sync_after_an_ownership_transfer_renders_the_card_again(
        graph: Graph, site: Path) -> None:
    history(graph)
    built = build_site(graph, site, mermaid=_mermaid())
    assert built.built == "full"
    assert (built.out_dir / "changes/index.html").is_file()
    assert sync_site(graph, site, mermaid=_mermaid()).written == []

    # a link-only change of the card's model: no stamp of the model itself moves
    alice = Client(graph, actor="alice")
    b = alice.builder()
    b.own("model:churn", owner="person:bob", transfer_from="person:alice")
    alice.write(b, now=_at(7))
    result = sync_site(graph, site, mermaid=_mermaid())
    assert {"models/churn.md", "changes.md", "people/alice.md", "people/bob.md"} <= set(
        result.written), result.written
    assert result.built == "partial"
    card = _section((docs_dir(site) / "models/churn.md").read_text(), "History")
    assert _rows(card)[0] == ("| 2026-03-07 09:30 UTC | [alice](../people/alice.md) | sdk |"
                              " owner alice → bob |")
    changes = (docs_dir(site) / "changes.md").read_text()
    assert _rows(_section(changes, "2026-03-07")) == [
        "| 09:30 UTC | Model [churn](models/churn.md) | [alice](people/alice.md) | sdk |"
        " owner alice → bob |"]
    html = (result.out_dir / "models/churn/index.html").read_text()
    assert "owner alice → bob" in html
    assert sync_site(graph, site, mermaid=_mermaid()).written == []

    overflow = _shoot(result.out_dir, ["models/churn/", "datasets/customers/",
                                       "people/alice/", "changes/"])
    print(f"screenshots in {SHOTS}; overflow {overflow}")
    assert all(v <= 0 for v in overflow.values()), overflow
