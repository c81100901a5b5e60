"""The Jinja2 environment: page model in, Markdown bytes out, the same every time."""

from __future__ import annotations

from functools import cache
from typing import Any

import yaml
from jinja2 import Environment, PackageLoader

from . import slugs
from .pages import FOLDERS, HOME, INDEXES, PRODUCTION, Page, entity_path, relative

#: libyaml's emitter when PyYAML was built with it: the pure-Python one took a third of
#: a model card's render time. Both emit the same text for these plain values.
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def front_matter(meta: dict[str, Any]) -> str:
    """YAML front matter (valid YAML whatever the names hold), or nothing."""
    if not meta:
        return ""
    text = yaml.dump(meta, Dumper=_DUMPER, sort_keys=True, allow_unicode=True,
                     default_flow_style=False, width=1000)
    return f"---\n{text}---\n\n"


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("docs_gen", "templates"),
        autoescape=False,  # Markdown, escaped field by field with the filters below
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(md=slugs.md, cell=slugs.cell, block=slugs.block,
                       mermaid_label=slugs.mermaid_label)
    env.globals.update(FOLDERS=FOLDERS)
    return env


def render(page: Page) -> str:
    """The page's Markdown; links are relative to the page so strict mkdocs checks them."""

    def link(kind: str, key: str, text: str | None = None) -> str:
        target = entity_path(kind, key)
        return f"[{slugs.md(text if text is not None else key)}]({relative(page.path, target)})"

    def to(path: str) -> str:
        return relative(page.path, path)

    template = environment().get_template(page.template)
    body = template.render(**page.context, link=link, to=to, HOME=HOME, PRODUCTION=PRODUCTION,
                           INDEXES=INDEXES, mermaid_id=slugs.mermaid_id)
    meta = page.context.get("front_matter") or {}
    return front_matter(meta) + body.rstrip("\n") + "\n"
