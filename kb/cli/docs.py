"""``kb docs build|sync|watch|serve``: the team's knowledge site, generated from the graph."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import typer

from .app import app, console, get_config, open_graph

docs_app = typer.Typer(help="Build, update and serve the knowledge site (model cards ...).",
                       no_args_is_help=True)
app.add_typer(docs_app, name="docs")

OUT_OPTION = typer.Option(None, "--out", help="Folder for the built HTML (default site/build).")


def _mermaid() -> Path | None:
    raw = os.environ.get("KB_MERMAID_JS")
    return Path(raw) if raw else None


def _report(result, verb: str) -> None:
    console.print(
        f"{verb}: {result.rendered} pages rendered, {len(result.written)} rewritten, "
        f"mkdocs build: {result.built}")
    console.print(f"site: {result.index_html.resolve()}", highlight=False)


@docs_app.command("build")
def build(out: Path | None = OUT_OPTION) -> None:
    """Render every page from the graph and run the strict mkdocs build."""
    from docs_gen import build_site

    config = get_config()
    with open_graph(config) as graph:
        result = build_site(graph, config.site_dir, out_dir=out, home=config.home,
                            mermaid=_mermaid())
    _report(result, "built")


@docs_app.command("sync")
def sync(out: Path | None = OUT_OPTION) -> None:
    """Re-render only the pages whose entities changed since the last sync, then rebuild."""
    from docs_gen import sync_site

    config = get_config()
    with open_graph(config) as graph:
        result = sync_site(graph, config.site_dir, out_dir=out, home=config.home,
                           mermaid=_mermaid())
    _report(result, "synced")
    for path in result.written:
        console.print(f"  rewrote {path}", highlight=False)


@docs_app.command("watch")
def watch(interval: float = typer.Option(10.0, "--interval", min=0.5,
                                         help="Seconds between syncs."),
          out: Path | None = OUT_OPTION) -> None:
    """Keep the site current: sync every INTERVAL seconds until interrupted."""
    from docs_gen import sync_site

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    config = get_config()
    with open_graph(config) as graph:
        console.print(f"watching the graph every {interval:g}s; Ctrl-C to stop")
        try:
            while True:
                result = sync_site(graph, config.site_dir, out_dir=out, home=config.home,
                                   mermaid=_mermaid())
                if result.written:
                    _report(result, "synced")
                time.sleep(interval)
        except KeyboardInterrupt:
            console.print("stopped")


@docs_app.command("serve")
def serve(port: int = typer.Option(8001, "--port", help="Port on 127.0.0.1."),
          out: Path | None = OUT_OPTION) -> None:
    """Serve the built site locally (build it first with `kb docs build`)."""
    import functools
    import http.server

    config = get_config()
    root = (out or config.site_dir / "build").resolve()
    if not (root / "index.html").is_file():
        from kb.errors import NotFound

        raise NotFound("built site", str(root))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        console.print(f"serving {root} at http://127.0.0.1:{port}/ ; Ctrl-C to stop",
                      highlight=False)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            console.print("stopped")
