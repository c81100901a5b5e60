"""The knowledge site generator: graph -> page models -> Markdown -> mkdocs-material.

    collect   reads the graph through kb.graph.pages into plain page models
    pages     which pages exist, where they live, the nav
    render    the Jinja2 environment; the same model always renders the same bytes
    slugs     safe, stable file names and Markdown escaping
    sync      the updatedAt watermark and the pages a change touches
    build     writes pages and runs the strict mkdocs build
    vendor    the offline mermaid script the theme loads

It only reads the graph.
"""

from .build import BuildResult, build_site, sync_site

__all__ = ["BuildResult", "build_site", "sync_site"]
