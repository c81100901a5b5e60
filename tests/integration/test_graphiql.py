"""GraphiQL works with no internet access: kb serves the page's scripts and styles itself.

The assets are fetched at set-up (``scripts/setup.sh`` runs ``python -m kb.api.graphiql``);
these tests use that copy. The browser test blocks every request that is not to the kb
server, so a script still loaded from a CDN would leave the editor unrendered.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from api_support import Api, api_config, seed_history

from kb.api import graphiql
from kb.api.app import create_app
from kb.config import Config

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(os.environ.get("KB_GRAPHIQL_SHOTS", "/tmp/graphiql-shots"))
PAGE = {"Accept": "text/html"}
_REFS = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]*)\"""", re.I)


def _needs_assets(home: Path) -> None:
    if graphiql.installed(home) is None:
        pytest.fail("GraphiQL's assets are not installed: run python -m kb.api.graphiql "
                    "(scripts/setup.sh does)")


@pytest.fixture
def api(graph) -> Api:
    config = api_config()
    _needs_assets(config.home)
    return Api(graph, config)


def test_the_page_loads_nothing_from_elsewhere(api):
    page = api.http("GET", "/graphql", headers=PAGE)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    refs = _REFS.findall(page.text)
    assert refs, page.text[:500]
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page.text, re.I)
    # the browser is told the same: nothing but this server
    assert "default-src 'self'" in page.headers["content-security-policy"]
    # every script and style of the pinned packages is on the page
    names = {ref.rsplit("/", 1)[1] for ref in refs if not ref.startswith("data:")}
    assert names == set(graphiql.BY_NAME)


def test_every_asset_the_page_references_is_served(api):
    page = api.http("GET", "/graphql", headers=PAGE)
    for ref in _REFS.findall(page.text):
        if ref.startswith("data:"):
            continue
        asset = api.http("GET", ref)
        assert asset.status_code == 200, ref
        kind = "javascript" if ref.endswith(".js") else "css"
        assert asset.headers["content-type"].startswith(f"text/{kind}"), ref
        assert "immutable" in asset.headers["cache-control"]
        assert len(asset.content) > 100, ref


def test_only_the_pinned_assets_are_served(api):
    for path in (f"{graphiql.PREFIX}/nope.js", f"{graphiql.PREFIX}/..%2F..%2Fpyvenv.cfg",
                 "/graphiql/0000/graphiql.min.js"):
        assert api.http("GET", path).status_code == 404, path


def test_the_page_and_assets_hold_no_data_without_a_token(graph):
    config = api_config(anonymous_reads=False)
    _needs_assets(config.home)
    api = Api(graph, config)
    page = api.http("GET", "/graphql", headers=PAGE)
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    asset = api.http("GET", f"{graphiql.PREFIX}/react.production.min.js")
    assert asset.status_code == 200
    assert api.post("{ models { nodes { name } } }").status_code == 401


def test_turned_off_graphiql_serves_no_assets(graph):
    api = Api(graph, api_config(graphiql=False))
    assert api.http("GET", f"{graphiql.PREFIX}/graphiql.min.js").status_code == 404


def test_without_assets_the_page_says_how_to_fetch_them(graph, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(graphiql, "venv_dir", lambda: tmp_path / "venv-share")
    api = Api(graph, api_config(home=tmp_path / "home"))
    page = api.http("GET", "/graphql", headers=PAGE)
    assert page.status_code == 503
    assert "-m kb.api.graphiql" in page.text and "Loading" not in page.text
    assert str(tmp_path) not in page.text  # anyone may load it: no path of the server
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page.text, re.I)
    assert api.http("GET", f"{graphiql.PREFIX}/graphiql.min.js").status_code == 404
    assert str(tmp_path / "home") in caplog.text  # the server's log says where it looked


@pytest.fixture
def live(graph, client) -> Iterator[str]:
    """kb's app on uvicorn on a loopback port, in a thread, with the API tests' history."""
    seed_history(client)
    config = dataclasses.replace(Config(), api_host="127.0.0.1", anonymous_reads=True)
    _needs_assets(config.home)
    app = create_app(config, graph=graph)
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = uv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.mark.slow  # serves the API on uvicorn and drives a browser at two widths
@pytest.mark.skipif(not shutil.which(CHROMIUM), reason="chromium is not installed")
def test_graphiql_renders_and_runs_a_query_offline(live):
    from playwright.sync_api import sync_playwright

    assert httpx.get(live + "/healthz").status_code == 200
    SHOTS.mkdir(parents=True, exist_ok=True)
    query = '{ model(name: "churn") { name versions { version } } }'
    elsewhere: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for width in (1400, 400):
                context = browser.new_context(viewport={"width": width, "height": 900})

                def block(route, request) -> None:
                    elsewhere.append(request.url)
                    route.abort()

                # no internet: anything but the kb server is refused
                context.route(lambda url: not url.startswith(live), block)
                page = context.new_page()
                problems: list[str] = []
                page.on("pageerror", lambda exc, found=problems: found.append(str(exc)))
                page.on("console", lambda msg, found=problems: found.append(msg.text)
                        if msg.type == "error" else None)
                page.goto(f"{live}/graphql?q={quote(query)}",
                          wait_until="load")
                page.wait_for_selector(".graphiql-query-editor .CodeMirror", timeout=30_000)
                page.locator(".graphiql-execute-button").click()
                result = page.locator(".graphiql-response")
                result.get_by_text('"churn"').wait_for(timeout=30_000)
                text = result.inner_text()
                assert '"version"' in text and "errors" not in text, text
                page.screenshot(path=str(SHOTS / f"graphiql-{width}.png"))
                assert not problems, problems
                context.close()
        finally:
            browser.close()
    assert not elsewhere, elsewhere
