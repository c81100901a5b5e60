"""Model cards answer the drill from the card: what runs where, and every version in full.

A model whose v1 serves production while v2 and v3 are newer: the card must lead with v1
for production, give each version its own section (its own params, commit, data), anchor
each, chart every version's metrics with production marked, and read well in a browser.
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from docs_gen import build_site
from docs_gen.build import docs_dir
from kb.graph import Graph
from kb.ingest import Client

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(os.environ.get("KB_CARD_SHOTS", "/tmp/cards-shots"))
DIGEST = "sha256:" + "0123456789abcdef" * 4


def _at(day: int) -> datetime:
    return datetime(2024, 5, day, 12, 0, tzinfo=UTC)


def _digest(v: int) -> str:
    return f"sha256:feat{v}" + "0" * 58


def history(client: Client) -> None:
    """``fraud`` v1 (by a person who has left) in production, v2 in staging, v3 newest."""
    with client.batch() as b:
        b.person("carol", name="Carol")
        b.person("dave", name="Dave")
        b.dataset_version("events", "raw", digest=DIGEST, rows=10, created_at=_at(1))
        for v in (1, 2, 3):
            b.dataset_version("features", f"f{v}", digest=_digest(v),
                              derived_from=["events@raw"], created_at=_at(1 + v))
        b.model("fraud", description="Flags fraudulent payments", task="classification")
    client.own("model:fraud", owner="dave")
    for v, who in ((1, "carol"), (2, "dave"), (3, "dave")):
        client.log_run(
            id=f"fraud-run-{v}", experiment="fraud", person=who, started_at=_at(10 + v),
            ended_at=_at(10 + v), params={"lr": v / 10, "trees": 100 * v},
            metrics={"auc": [0.81, 0.82, 0.83][v - 1], "recall": [0.6, 0.7, 0.8][v - 1]},
            command=f"python train.py --trees {100 * v}", seed=v,
            inputs=[("features", f"f{v}", "train")],
            code={"repo": "https://github.com/acme/fraud", "commit": f"commit{v}aaaa",
                  "branch": "main", "dirty": v == 2},
            environment={"digest": f"env-{v}", "python": "3.12.1"},
            tracker_url=f"https://mlflow.example/runs/{v}",
            models=[{"model": "fraud", "framework": "xgboost"}])
    client.deploy("fraud", 1, environment="production", by="dave",
                  endpoint="https://api.example/fraud", deployed_at=_at(20))
    client.deploy("fraud", 2, environment="staging", by="dave", deployed_at=_at(21))
    client.person("carol", active=False, left_at=_at(25))


@pytest.fixture
def built(graph: Graph, client: Client, tmp_path: Path) -> tuple[Path, Path]:
    history(client)
    site = tmp_path / "site"
    shutil.copytree(REPO / "site", site, ignore=shutil.ignore_patterns("generated", "build"))
    mermaid = os.environ.get("KB_MERMAID_JS")
    result = build_site(graph, site, mermaid=Path(mermaid) if mermaid else None)
    return docs_dir(site), result.out_dir


def _section(text: str, heading: str) -> str:
    return text.split(heading + "\n", 1)[1].split("\n#", 1)[0]


def test_the_card_leads_with_what_runs_where_and_describes_each_version(
        built: tuple[Path, Path]) -> None:
    docs, out = built
    card = (docs / "models/fraud.md").read_text()
    _, front, body = card.split("---\n", 2)
    # the metadata describe the version in production, not the newest
    assert yaml.safe_load(front)["model-index"][0]["name"] == "fraud@1"
    top = body.split("## Runs where\n", 1)[1].split("\n## ", 1)[0]
    assert body.index("## Runs where") < body.index("Flags fraudulent payments")
    rows = [r for r in top.splitlines() if r.startswith("| **")]
    assert rows[0].startswith("| **production** | [v1](fraud.md#version-1) | 2024-05-20 12:00 UTC "
                              "| [dave](../people/dave.md) | [carol](../people/carol.md) "
                              "(departed) |"), rows
    assert rows[1].startswith("| **staging** | [v2](fraud.md#version-2) |"), rows
    # each version's own facts in its own section
    for v in (1, 2, 3):
        section = _section(body, f"### Version {v} {{#version-{v}}}")
        assert f"<code>commit{v}aaaa</code>" in section
        assert f"| lr | 0\\.{v} |" in section and f"| trees | {100 * v} |" in section
        assert f"[features@f{v}](../datasets/features.md)" in section
        assert "[events@raw](../datasets/events.md)" in section  # derived from
        assert f"python train\\.py \\-\\-trees {100 * v}" in section
        assert f"<code>env\\-{v}</code>" in section and f"Seed\n:   {v}\n" in section
        assert f"git checkout commit{v}aaaa" in section
        assert f"[https://mlflow\\.example/runs/{v}](https://mlflow.example/runs/{v})" in section
        # a long digest is shortened in the table, whole in its title and the recipe
        assert f'<code title="{_digest(v)}">{_digest(v)[:16]}…</code>' in section
        assert f"({_digest(v)})" in section
        others = {1, 2, 3} - {v}
        assert not any(f"commit{o}aaaa" in section for o in others), section
    assert "**with uncommitted changes**" in _section(body, "### Version 2 {#version-2}")
    assert "(clean tree)" in _section(body, "### Version 1 {#version-1}")
    page = (out / "models/fraud/index.html").read_text()
    for v in (1, 2, 3):
        assert f'id="version-{v}"' in page
    # the chart's data holds every version's metrics, production marked
    found = re.search(r'data-kb-chart="([^"]*)"', page)
    assert found is not None
    chart = json.loads(html.unescape(found.group(1)))
    assert chart["versions"] == ["1", "2", "3"] and chart["production"] == ["1"]
    assert chart["deployed"] == ["1", "2"]
    assert {m["name"]: m["values"] for m in chart["metrics"]} == {
        "auc": [0.81, 0.82, 0.83], "recall": [0.6, 0.7, 0.8]}
    # and the same numbers as text
    metrics = _section(body, "## Metrics across versions")
    assert "| [v1](fraud.md#version-1) | production | 0\\.81 | 0\\.6 |" in metrics
    # lineage nodes link to their pages (mermaid click lines, built-site URLs)
    assert 'href "../../datasets/events/" _self' in body
    assert 'href "#version-1" _self' in body and 'href "../../production/" _self' in body
    # production and the home page link each version to its section
    production = (docs / "production.md").read_text()
    assert "(models/fraud.md#version-1)" in production


def test_a_version_beyond_the_newest_kept_still_has_its_anchor(
        graph: Graph, client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from docs_gen import collect

    monkeypatch.setattr(collect, "VERSIONS_SHOWN", 1)
    history(client)
    site = tmp_path / "site"
    shutil.copytree(REPO / "site", site, ignore=shutil.ignore_patterns("generated", "build"))
    result = build_site(graph, site)  # strict: every version link must find its anchor
    body = (docs_dir(site) / "models/fraud.md").read_text()
    # v3 (newest) and v1, v2 (deployed) in full; none is left for the older list
    assert all(f"### Version {v} {{#version-{v}}}" in body for v in (1, 2, 3))
    assert "### Older versions" not in body
    client.deploy("fraud", 3, environment="staging", by="dave", deployed_at=_at(26))
    client.log_run(id="fraud-run-4", experiment="fraud", person="dave", started_at=_at(27),
                   models=[{"model": "fraud"}])
    result = build_site(graph, site)
    body = (docs_dir(site) / "models/fraud.md").read_text()
    older = body.split("### Older versions\n", 1)[1].split("\n## ", 1)[0]
    assert '<span id="version-2"></span>2' in older  # staging moved on: v2 is history
    assert 'id="version-2"' in (result.out_dir / "models/fraud/index.html").read_text()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def served(built: tuple[Path, Path]) -> Iterator[str]:
    handler = functools.partial(_Quiet, directory=str(built[1]))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


#: The theme draws diagrams in closed shadow roots; open them so the test can look in.
_OPEN_SHADOWS = """
const attach = Element.prototype.attachShadow;
Element.prototype.attachShadow = function (init) {
  return attach.call(this, {...init, mode: 'open'});
};
"""

#: Tables whose last column ends beyond the page's content (a key column hidden).
_CLIPPED = """
() => [...document.querySelectorAll('article table')].filter(t => {
  const last = t.querySelector('tr > :last-child');
  const article = document.querySelector('article').getBoundingClientRect();
  return last && last.getBoundingClientRect().right > article.right + 1;
}).map(t => t.querySelector('th').textContent + '…' + t.querySelector('th:last-child').textContent)
"""


def test_a_browser_draws_the_charts_sorts_tables_and_follows_the_reader_s_theme(
        served: str) -> None:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for scheme in ("light", "dark"):
                context = browser.new_context(color_scheme=scheme)
                context.route(lambda url: not url.startswith(served), lambda r: r.abort())
                page = context.new_page()
                for width in (1400, 400):
                    page.set_viewport_size({"width": width, "height": 1000})
                    for name, path in (("model", "models/fraud/"),
                                       ("production", "production/")):
                        page.goto(f"{served}/{path}", wait_until="load")
                        page.wait_for_timeout(300)
                        page.screenshot(path=SHOTS / f"{name}-{width}-{scheme}.png",
                                        full_page=True)
                        if width == 1400:
                            assert page.evaluate(_CLIPPED) == [], (name, scheme)
                # the reader's setting picks the theme's scheme
                assert page.evaluate("document.body.getAttribute('data-md-color-scheme')") \
                    == ("slate" if scheme == "dark" else "default")
                context.close()
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.route(lambda url: not url.startswith(served), lambda r: r.abort())
            context.add_init_script(_OPEN_SHADOWS)
            page = context.new_page()
            page.goto(f"{served}/models/fraud/", wait_until="load")
            # one chart per metric, drawn (a canvas with pixels) and labelled as text
            page.wait_for_function("document.querySelectorAll('.kb-chart canvas').length == 2")
            captions = page.locator(".kb-chart figcaption").all_inner_texts()
            assert captions == ["auc", "recall"]
            assert "v1 0.81" in (page.locator(".kb-chart canvas").first
                                 .get_attribute("aria-label") or "")
            # tables sort by their header
            header = page.locator("article table th", has_text="Parameter").first
            header.click()
            assert header.get_attribute("aria-sort") in ("ascending", "descending")
            # a version link lands on the version's section; a diagram node links out
            page.locator("a[href$='#version-1']").first.click()
            assert page.url.endswith("#version-1")
            page.wait_for_function(
                "[...document.querySelectorAll('.mermaid')].every("
                "e => e.shadowRoot && e.shadowRoot.querySelector('svg'))")
            links = page.evaluate("""() => [...document.querySelectorAll('.mermaid')].flatMap(
                e => [...e.shadowRoot.querySelectorAll('a')].map(
                    a => a.getAttribute('xlink:href') || a.getAttribute('href')))""")
            assert "../../datasets/events/" in links and "#version-1" in links, links
        finally:
            browser.close()
