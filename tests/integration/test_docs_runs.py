"""Run and experiment pages, leaderboards, what a departed person was working on, team
pages, notes as safe Markdown and the search boost, built against the real Neo4j."""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from docs_gen import build_site, sync_site
from docs_gen.build import docs_dir
from docs_gen.slugs import slug
from kb.graph import Graph
from kb.ingest import Client

#: Every test builds a site with mkdocs; one drives a browser.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
NOTE = ("**Switch** to `lr=0.01`, see [the doc](https://wiki.example/churn).\n\n"
        "<script>document.title='pwned'</script> <b onclick=\"x()\">bold</b> "
        "[js](javascript:alert(1)) <img src=https://evil.example/x.png>")


def _at(day: int, hour: int = 12) -> datetime:
    return datetime(2024, 5, day, hour, 0, tzinfo=UTC)


def history(client: Client) -> None:
    """Olga (who leaves) and Pia in team ml; two experiments; a parent run with two
    children, a failed and a running run; notes; the model ``churn`` and a dataset
    whose description mentions churn."""
    with client.batch() as b:
        b.team("ml", description="Modelling")
        b.person("olga", name="Olga", team="ml")
        b.person("pia", name="Pia", team="ml")
        b.dataset("events", description="Raw events; churn and more churn, churn churn")
        b.dataset_version("events", "v1", digest="sha256:e1", rows=10, created_at=_at(1))
        b.experiment("churn-exp", description="Churn models")
        b.experiment("fraud-exp")
    client.own("dataset:events", owner="pia")
    client.own("experiment:churn-exp", owner="olga")
    data = [("events", "v1", "train")]
    code = {"repo": "https://github.com/acme/churn", "commit": "abc123", "dirty": True}
    client.log_run(id="sweep", name="lr sweep", experiment="churn-exp", person="olga",
                   started_at=_at(10), ended_at=_at(11), params={"lr": 0.1},
                   metrics={"auc": 0.80}, inputs=data, code=code,
                   command="python train.py --sweep", seed=7,
                   environment={"digest": "env-9", "python": "3.11", "packages": ["torch==2.3"]})
    client.log_run(id="sweep-1", experiment="churn-exp", person="olga", parent="sweep",
                   started_at=_at(10, 13), ended_at=_at(10, 14), params={"lr": 0.01},
                   metrics={"auc": 0.91, "loss": 0.2}, inputs=data, code=code,
                   models=[{"model": "churn", "framework": "sklearn"}])
    client.log_run(id="sweep-2", experiment="churn-exp", person="olga", parent="sweep",
                   started_at=_at(10, 15), ended_at=_at(10, 16), params={"lr": 0.001},
                   metrics={"auc": 0.70, "loss": 0.5}, inputs=data)
    client.log_run(id="olga-failed", name="big batch", experiment="churn-exp", person="olga",
                   status="FAILED", started_at=_at(12), ended_at=_at(12, 13),
                   error="CUDA out of memory")
    client.log_run(id="olga-running", experiment="fraud-exp", person="olga",
                   status="RUNNING", started_at=_at(13))
    for i, loss in enumerate([0.3, 0.1, 0.2], start=1):
        client.log_run(id=f"fraud-{i}", experiment="fraud-exp", person="pia",
                       started_at=_at(14 + i), ended_at=_at(14 + i), metrics={"val_loss": loss})
    client.log_run(id="fraud-4", experiment="fraud-exp", person="pia", started_at=_at(19),
                   ended_at=_at(19))
    client.own("model:churn", owner="olga")
    client.note("experiment:churn-exp", NOTE, by="olga")
    client.note("run:olga-failed", "Retry with **batch 16**.", by="olga")
    client.person("olga", active=False, left_at=_at(28))


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def site(tmp_path: Path) -> Path:
    target = tmp_path / "site"
    shutil.copytree(REPO / "site", target, ignore=shutil.ignore_patterns("generated", "build"))
    return target


def _build(graph: Graph, site: Path):
    mermaid = os.environ.get("KB_MERMAID_JS")
    return build_site(graph, site, mermaid=Path(mermaid) if mermaid else None)


def _page(site: Path, path: str) -> str:
    return (docs_dir(site) / path).read_text()


def _section(page: str, heading: str) -> str:
    start = page.index(heading)
    rest = page[start + len(heading):]
    end = re.search(r"^#{2,3} ", rest, re.M)
    return rest[:end.start()] if end else rest


@pytest.fixture
def built(graph: Graph, client: Client, site: Path):
    history(client)
    return _build(graph, site)


def test_run_pages_show_their_own_facts(built, site: Path) -> None:
    assert built.built == "full"
    sweep = _page(site, "runs/sweep.md")
    assert "| Experiment | [churn\\-exp](../experiments/churn-exp.md) |" in sweep
    assert "| Trained by | [Olga](../people/olga.md) (departed) |" in sweep
    assert "| lr | 0\\.1 |" in sweep and "| auc | 0\\.8 |" in sweep
    assert "[sweep\\-1](sweep-1.md)" in sweep and "[sweep\\-2](sweep-2.md)" in sweep
    assert "| Child runs | 2 |" in sweep
    assert "sha256:e1" in sweep and "[events@v1](../datasets/events.md)" in sweep
    assert "[https://github\\.com/acme/churn](https://github.com/acme/churn)" in sweep
    assert "| Uncommitted changes | yes" in sweep and "env\\-9" in sweep
    assert "git checkout abc123" in sweep and "python train.py --sweep" in sweep

    child = _page(site, "runs/sweep-1.md")
    assert "| Parent run | [sweep](sweep.md) (COMPLETED) |" in child
    assert "| lr | 0\\.01 |" in child and "| auc | 0\\.91 |" in child
    assert "Model version [churn@1](../models/churn.md#version-1)" in child
    assert "lr=0.1" not in child

    failed = _page(site, "runs/olga-failed.md")
    assert '!!! failure "Did not complete"' in failed
    assert "CUDA out of memory" in _section(failed, "## Error")
    assert "Retry with" in _section(failed, "## Notes")
    running = _page(site, "runs/olga-running.md")
    assert '!!! info "Not finished"' in running and "| Ended | not yet |" in running


def _board(page: str) -> list[str]:
    rows = re.findall(r"^\| \d* \| \[([^\]]+)\]\(\.\./runs/",
                      _section(page, "## Leaderboard"), re.M)
    return [r.replace("\\-", "-") for r in rows]


def test_leaderboards_rank_best_first_by_the_main_metric(built, site: Path) -> None:
    churn = _page(site, "experiments/churn-exp.md")
    # auc: logged by three runs (loss by two), higher is better; the failed run last
    assert _board(churn) == ["sweep-1", "sweep", "sweep-2", "olga-failed"]
    assert "Ranked by **auc**, higher is better" in churn
    header = next(line for line in churn.splitlines() if line.startswith("| # |"))
    assert header.index("auc") < header.index("loss") < header.index("lr (param)")
    fraud = _page(site, "experiments/fraud-exp.md")
    # a loss ranks lowest first; runs without it follow, newest first
    assert _board(fraud) == ["fraud-2", "fraud-3", "fraud-1", "fraud-4", "olga-running"]
    assert "Ranked by **val\\_loss**, lower is better" in fraud
    index = _page(site, "experiments/index.md")
    assert "| [churn\\-exp](churn-exp.md) | 4 | 0 | 1 |" in index
    assert "| [fraud\\-exp](fraud-exp.md) | 5 | 1 | 0 |" in index


def test_the_departed_persons_page_shows_what_they_were_working_on(built, site: Path
                                                                   ) -> None:
    olga = _page(site, "people/olga.md")
    unsettled = _section(olga, "### Failed and unfinished runs")
    rows = re.findall(r"^\| \[([^\]]+)\]\(\.\./runs/", unsettled, re.M)
    assert rows == ["olga\\-failed", "olga\\-running"]  # failed first
    assert "CUDA out of memory" in unsettled
    by_exp = _section(olga, "### Runs by experiment")
    assert "| [fraud\\-exp](../experiments/fraud-exp.md) | 1 | 1 running |" in by_exp
    assert "| [churn\\-exp](../experiments/churn-exp.md) | 4 | 1 failed, 3 completed |" in by_exp
    notes = _section(olga, "### Notes they wrote")
    assert "About [churn\\-exp](../experiments/churn-exp.md) (experiment)" in notes
    assert "About [olga\\-failed](../runs/olga-failed.md) (run)" in notes
    assert "<strong>Switch</strong>" in notes
    # every run id on the page is a link that the strict build resolved
    html = (built.out_dir / "people/olga/index.html").read_text()
    for run in ("sweep", "sweep-1", "sweep-2", "olga-failed", "olga-running"):
        assert f'href="../../runs/{run}/"' in html, run
        assert (built.out_dir / "runs" / run / "index.html").is_file()
    team = _page(site, "teams/ml.md")
    owned = _section(team, "## Owned by its members")
    assert ("| [Olga](../people/olga.md) (departed) | [churn\\-exp](../experiments/churn-exp.md)"
            " (experiment), [churn](../models/churn.md) (model) |") in owned
    assert "| [Pia](../people/pia.md) | [events](../datasets/events.md) (dataset) |" in owned


def test_notes_are_markdown_and_stay_inert(built, site: Path) -> None:
    html = (built.out_dir / "experiments/churn-exp/index.html").read_text()
    note = html[html.index('class="kb-note"'):]
    note = note[:note.index("</div>")]
    assert "<strong>Switch</strong>" in note and "<code>lr=0.01</code>" in note
    assert 'href="https://wiki.example/churn"' in note
    for bad in ("<script", "onclick", "javascript:", "<img", "evil.example"):
        assert bad not in note, bad


def test_models_and_experiments_carry_a_search_boost(built, site: Path) -> None:
    _, front, _ = _page(site, "models/churn.md").split("---\n", 2)
    assert yaml.safe_load(front)["search"] == {"boost": 4}
    _, front, _ = _page(site, "experiments/churn-exp.md").split("---\n", 2)
    assert yaml.safe_load(front)["search"] == {"boost": 2}
    index = json.loads((built.out_dir / "search/search_index.json").read_text())
    boosts = {d["location"]: d.get("boost") for d in index["docs"]}
    assert boosts["models/churn/"] == 4
    assert boosts.get(f"datasets/{slug('events')}/") is None


def test_a_new_run_rewrites_its_page_its_experiment_and_its_trainer(
        built, graph: Graph, client: Client, site: Path) -> None:
    assert sync_site(graph, site).written == []
    client.log_run(id="fraud-5", experiment="fraud-exp", person="pia", started_at=_at(20),
                   ended_at=_at(20), metrics={"val_loss": 0.05})
    result = sync_site(graph, site)
    written = set(result.written)
    assert {"runs/fraud-5.md", "experiments/fraud-exp.md", "experiments/index.md",
            "people/pia.md"} <= written, written
    assert not any(p.startswith("runs/") and p != "runs/fraud-5.md" for p in written)
    assert _board(_page(site, "experiments/fraud-exp.md"))[0] == "fraud-5"
    assert sync_site(graph, site).written == []


def test_search_finds_the_model_named_churn_first(built) -> None:
    from playwright.sync_api import sync_playwright

    handler = functools.partial(_Quiet, directory=str(built.out_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                         args=["--no-sandbox"])
            context = browser.new_context()
            context.route(lambda url: not url.startswith(base), lambda route: route.abort())
            page = context.new_page()
            page.goto(f"{base}/", wait_until="load")
            page.locator("input.md-search__input").click()
            page.keyboard.type("churn")  # the theme searches on key events
            # results carry the query they answer (?h=...): wait for the whole word's
            page.wait_for_selector('.md-search-result__item > a[href$="?h=churn"]',
                                   timeout=30_000)
            first = page.locator(".md-search-result__item > a").first.get_attribute("href")
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    assert first is not None and "/models/churn/" in first, first
