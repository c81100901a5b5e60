"""GraphiQL served from kb itself: its page and the scripts and styles it loads.

Strawberry's own page loads React and GraphiQL from a CDN, so on a machine with no internet
access it never gets past "Loading...". Here the same pinned npm packages are fetched once
(``python -m kb.api.graphiql``, run by ``scripts/setup.sh``) into a cache under the virtual
environment (or the kb home when the environment is not writable), served under
``/graphiql/<tag>/`` with year-long cache headers (the tag changes with the pins), and the
page refers only to them. Without the files the page says how to fetch them.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from kb import npm
from kb.config import Config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Asset:
    """One file of an npm package that the page loads."""

    spec: str  # the pinned package, as ``npm pack`` takes it
    member: str  # its path inside the tarball
    name: str  # its name in the cache and in the URL
    media_type: str


_JS, _CSS = "text/javascript; charset=utf-8", "text/css; charset=utf-8"
#: The versions strawberry's page loads from its CDN, pinned: the page below uses their API.
ASSETS = (
    Asset("react@18.2.0", "package/umd/react.production.min.js",
          "react.production.min.js", _JS),
    Asset("react-dom@18.2.0", "package/umd/react-dom.production.min.js",
          "react-dom.production.min.js", _JS),
    Asset("graphiql@3.8.3", "package/graphiql.min.js", "graphiql.min.js", _JS),
    Asset("graphiql@3.8.3", "package/graphiql.min.css", "graphiql.min.css", _CSS),
    Asset("@graphiql/plugin-explorer@1.0.2", "package/dist/index.umd.js",
          "plugin-explorer.umd.js", _JS),
    Asset("@graphiql/plugin-explorer@1.0.2", "package/dist/style.css",
          "plugin-explorer.css", _CSS),
)
BY_NAME = {a.name: a for a in ASSETS}
#: Names the cache directory and the URL path, so that new pins never meet old copies.
TAG = hashlib.sha256("\n".join(f"{a.spec} {a.member}" for a in ASSETS).encode()
                     ).hexdigest()[:12]
PREFIX = f"/graphiql/{TAG}"
FETCH_COMMAND = "python -m kb.api.graphiql"
CACHE_SECONDS = 365 * 24 * 3600


def venv_dir() -> Path | None:
    """The cache inside the running virtual environment (None outside one)."""
    if sys.prefix == sys.base_prefix:
        return None
    return Path(sys.prefix) / "share" / "kb" / "graphiql" / TAG


def home_dir(home: Path) -> Path:
    return home / "vendor" / "graphiql" / TAG


def candidates(home: Path) -> list[Path]:
    return [d for d in (venv_dir(), home_dir(home)) if d is not None]


def installed(home: Path) -> Path | None:
    """The first cache holding every asset, or None."""
    for directory in candidates(home):
        if all((directory / a.name).is_file() for a in ASSETS):
            return directory
    return None


def fetch(home: Path) -> Path:
    """Every asset into the first writable cache; the cache used. Raises npm.NpmError."""
    for directory in candidates(home):
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(directory, os.W_OK):
            break
    else:
        raise npm.NpmError(f"none of {', '.join(map(str, candidates(home)))} is writable")
    by_spec: dict[str, dict[str, Path]] = {}
    for a in ASSETS:
        by_spec.setdefault(a.spec, {})[a.member] = directory / a.name
    for spec, members in by_spec.items():
        npm.extract(spec, members)
    return directory


# -- the page --------------------------------------------------------------------------------
# Strawberry's GraphiQL set-up (explorer plugin, the query kept in the URL), without the
# cookie reader and the subscription URL, which kb does not use.
_SCRIPT = """
const parameters = {};
for (const entry of window.location.search.slice(1).split("&")) {
  const eq = entry.indexOf("=");
  if (eq >= 0) {
    parameters[decodeURIComponent(entry.slice(0, eq))] = decodeURIComponent(entry.slice(eq + 1));
  }
}
function updateURL(data) {
  Object.assign(parameters, data);
  const search = "?" + Object.keys(parameters).filter((k) => Boolean(parameters[k]))
    .map((k) => encodeURIComponent(k) + "=" + encodeURIComponent(parameters[k])).join("&");
  history.replaceState(null, null, search);
}
const fetcher = GraphiQL.createFetcher({url: window.location.href.split("?")[0]});
function KbGraphiQL() {
  const [query, setQuery] = React.useState(parameters.q);
  const [variables, setVariables] = React.useState(parameters.variables);
  const [headers, setHeaders] = React.useState(parameters.headers);
  return React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultEditorToolsVisibility: true,
    plugins: [GraphiQLPluginExplorer.explorerPlugin()],
    query: query,
    variables: variables,
    headers: headers,
    onEditQuery: (q) => { setQuery(q); updateURL({q: q}); },
    onEditVariables: (v) => { setVariables(v); updateURL({variables: v}); },
    onEditHeaders: setHeaders,
    inputValueDeprecation: true,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: true,
  });
}
ReactDOM.createRoot(document.getElementById("graphiql"))
  .render(React.createElement(KbGraphiQL));
"""

_STYLE = """
body { height: 100%; margin: 0; width: 100%; overflow: hidden; }
#graphiql { height: 100vh; display: flex; }
.graphiql-explorer-actions select { margin-left: 4px; }
"""

#: The page may load only from this server; inline code is the page's own.
CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
       "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def page_html(base: str) -> str:
    """The GraphiQL page loading its assets from ``base`` (``<root path>/graphiql/<tag>``)."""
    base = html.escape(base, quote=True)
    styles = "\n".join(f'<link rel="stylesheet" href="{base}/{a.name}">'
                       for a in ASSETS if a.name.endswith(".css"))
    scripts = "\n".join(f'<script src="{base}/{a.name}"></script>'
                        for a in ASSETS if a.name.endswith(".js"))
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>kb GraphiQL</title>
<link rel="icon" href="data:,">
<style>{_STYLE}</style>
{styles}
</head>
<body>
<div id="graphiql" class="graphiql-container">Loading...</div>
{scripts}
<script>{_SCRIPT}</script>
</body>
</html>
"""


def missing_html() -> str:
    """The page when the assets are not installed: the one command that fetches them.
    It names no path of the server (anyone may load it); the server's log does."""
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>kb GraphiQL: not installed</title>
<link rel="icon" href="data:,"></head>
<body style="font-family: sans-serif; max-width: 48rem; margin: 2rem auto; padding: 0 1rem">
<h1>GraphiQL is not installed on this server</h1>
<p>kb serves GraphiQL's scripts itself, so that it works with no internet access, and they
have not been fetched yet. Fetch them once from the npm registry (npm must be installed),
with the Python that runs <code>kb serve</code>, on its machine:</p>
<pre>{html.escape(FETCH_COMMAND)}</pre>
<p>then reload this page; no restart is needed. (In a kb checkout,
<code>bash scripts/setup.sh</code> does it too.)</p>
<p>The API itself works meanwhile: <code>POST</code> GraphQL requests to this URL.</p>
</body>
</html>
"""


def ide_response(request: Request, config: Config) -> Response:
    """The GraphiQL page, or the page saying how to fetch its assets (503)."""
    headers = {"Content-Security-Policy": CSP, "Cache-Control": "no-store"}
    if installed(config.home) is None:
        log.warning("GraphiQL's assets are in none of %s: run %s",
                    ", ".join(map(str, candidates(config.home))), FETCH_COMMAND)
        return HTMLResponse(missing_html(), status_code=503, headers=headers)
    base = request.scope.get("root_path", "") + PREFIX
    return HTMLResponse(page_html(base), headers=headers)


def routes(config: Config) -> list[Route]:
    """``GET /graphiql/<tag>/<name>``: the assets, cacheable for a year."""

    async def asset(request: Request) -> Response:
        found = BY_NAME.get(request.path_params["name"])
        directory = installed(config.home)
        if found is None or directory is None:
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(directory / found.name, media_type=found.media_type, headers={
            "Cache-Control": f"public, max-age={CACHE_SECONDS}, immutable",
            "X-Content-Type-Options": "nosniff"})

    return [Route(PREFIX + "/{name}", asset, methods=["GET", "HEAD"])]


def main(argv: list[str] | None = None) -> int:
    """``python -m kb.api.graphiql``: fetch GraphiQL's assets (once; ``--force`` again)."""
    parser = argparse.ArgumentParser(prog=FETCH_COMMAND, description=main.__doc__)
    parser.add_argument("--force", action="store_true", help="fetch even if present")
    args = parser.parse_args(argv)
    home = Config.from_env().home
    present = installed(home)
    if present is not None and not args.force:
        print(f"GraphiQL's assets are in {present}")
        return 0
    try:
        where = fetch(home)
    except npm.NpmError as exc:
        print(f"could not fetch GraphiQL's assets: {exc}", file=sys.stderr)
        return 1
    print(f"GraphiQL's assets fetched into {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
