"""The site's one escaping policy: every recorded value reaches a page through one of these.

Recorded values come from anyone who can write to the graph (an OpenLineage producer, an
MLflow store, a script), so none of them may ever become markup. One function per surface:

- ``md`` / ``cell`` / ``block``: Markdown text shown literally (inline, table cell, lines);
- ``code``: a fenced block the content can never close;
- ``url``: a link only for absolute http(s) URLs, inert text otherwise;
- ``title`` / ``tag``: front-matter values the theme writes into HTML without escaping;
- ``mermaid_label``: a quoted mermaid label;
- ``note``: a note's Markdown as sanitised HTML (``nh3``), the only markup a writer controls;
- ``script_string``: a JavaScript string literal in a script file of the site;
- ``data_attribute``: JSON data in a double-quoted HTML attribute (charts' data);
- ``literal``: an identifier as inline code;
- ``digest``: a long identifier shortened in a table cell, whole in its hover title;
- ``mermaid_link``: a link target of a mermaid ``click`` line.
"""

from __future__ import annotations

import html
import json
import re
from functools import lru_cache
from urllib.parse import quote, urlsplit

import markdown
import nh3

# C0 controls but tab and newline, and DEL: Python-Markdown uses STX/ETX as placeholders.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Python-Markdown's escapable characters plus the table pipe.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>])")
# "~" is not escapable by backslash ("\~" would show the backslash) and "~~~" opens a fence
_REFERENCES = str.maketrans({"&": "&amp;", "<": "&lt;", "~": "&#126;"})
_BACKTICKS = re.compile(r"`+")


def _text(value: object) -> str:
    text = value if type(value) is str else str(value)
    return _CONTROL.sub("\ufffd", text.replace("\r\n", "\n").replace("\r", "\n"))


def md(text: object) -> str:
    """Text shown literally on one line of Markdown: no emphasis, links, headings or HTML."""
    if text is None:
        return ""
    return _md(text if type(text) is str else str(text))


# A site repeats the same short names thousands of times (people, datasets, metric names).
@lru_cache(maxsize=65536)
def _md(text: str) -> str:
    line = " ".join(_text(text).splitlines())
    return _MD_SPECIAL.sub(r"\\\1", line.translate(_REFERENCES))


def cell(text: object) -> str:
    """Escaped text for one table cell (``md`` never leaves a line break)."""
    return md(text)


def block(text: object) -> str:
    """Escaped multi-line text that keeps its line breaks (descriptions, datasheet sections)."""
    # stripped: an indented line would start a code block (HTML drops the indent anyway)
    lines = [_md(line.strip()) for line in _text(text or "").splitlines()]
    # a line of "=" under a line of text would make it a heading
    return "  \n".join("&#61;" + line[1:] if line.startswith("=") else line for line in lines)


def code(text: object, lang: str = "text") -> str:
    """A fenced code block: its fence is longer than any backtick run in the content, so no
    line of the content can close it (the content is then HTML-escaped by the highlighter)."""
    body = _text(text or "").rstrip("\n")
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{body}\n{fence}"


#: Characters left as they are in a link target; everything else is percent-encoded, so a
#: target can close neither the Markdown link nor the HTML attribute.
_URL_SAFE = "/:?#[]@!$&*+,;=%~-._"


def url(text: object) -> str:
    """An absolute http(s) URL as a link; any other value (``javascript:``, ``data:``,
    ``s3://``, a bare host) as inert text."""
    if text is None:
        return ""
    value = _text(text).strip()
    parts = urlsplit(value) if value.isprintable() else None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return md(value)
    return f"[{md(value)}]({quote(value, safe=_URL_SAFE)})"


def title(text: object) -> str:
    """A front-matter ``title``: material writes it into ``<title>`` and the header as it is
    (the heading's own text is unescaped by its ``striptags`` on the way to ``<title>``)."""
    return html.escape(" ".join(_text(text).split()))


def tag(text: object) -> str:
    """A front-matter tag: material's tags plugin writes tag names into pages as they are."""
    return html.escape(" ".join(_text(text).split()))


def mermaid_label(text: object) -> str:
    """A double-quoted mermaid label with its specials as mermaid entity codes."""
    # "%" too: mermaid reads "%%{...}%%" as a directive wherever it appears
    out = (" ".join(_text(text).splitlines()).replace("#", "#35;").replace("%", "#37;")
           .replace('"', "#quot;")
           .replace("<", "#lt;").replace(">", "#gt;").replace("`", "#96;"))
    return f'"{out}"'


#: What a note's Markdown may produce; anything else is dropped, keeping its text.
_NOTE_TAGS = {"p", "br", "hr", "strong", "em", "b", "i", "code", "pre", "blockquote", "ul",
              "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "del", "sub",
              "sup"}
_NOTE_ATTRIBUTES = {"a": {"href", "title"}}


@lru_cache(maxsize=4096)
def note(body: str) -> str:
    """A note's Markdown (bold, lists, code, http(s) links) as one line of sanitised HTML.

    Raw HTML, event handlers, images and links other than http(s) or relative never
    survive. The block is written on one line so nothing in it can start a Markdown
    construct (a code fence) in the page around it.
    """
    rendered = markdown.markdown(_text(body), extensions=["fenced_code", "tables", "sane_lists"])
    clean = nh3.clean(rendered, tags=_NOTE_TAGS, attributes=_NOTE_ATTRIBUTES,
                      url_schemes={"http", "https"}, link_rel="noopener noreferrer nofollow")
    # nh3 never lets a div through, so the outer div is the only one and its end is ours
    body = clean.strip().replace("\n", "&#10;")
    return f'<div class="kb-note"><blockquote>{body}</blockquote></div>'


# JSON's escapes make a valid JavaScript string; these also keep it inert where a script
# sits inside HTML, and "\u2028"/"\u2029" end lines in older engines.
_SCRIPT = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                         "\u2028": "\\u2028", "\u2029": "\\u2029"})


def script_string(text: object) -> str:
    """A double-quoted JavaScript string literal holding ``text`` as it is."""
    return json.dumps(_text(text), ensure_ascii=False).translate(_SCRIPT)


def _attribute(text: str) -> str:
    """``text`` for a double-quoted HTML attribute in Markdown: every character but letters,
    digits and a few plain marks is a character reference, so nothing in it can end the
    attribute, open a tag, or be read as Markdown (links, emphasis, table pipes)."""
    return "".join(c if c.isalnum() or c in " ,.:/-" else f"&#{ord(c)};" for c in text)


def data_attribute(value: object) -> str:
    """``value`` as JSON inside a double-quoted HTML attribute (``data-kb-chart="..."``);
    the browser's ``dataset`` gives the JSON back exactly."""
    return _attribute(_text(json.dumps(value, ensure_ascii=False, sort_keys=True,
                                       allow_nan=False)))


def literal(text: object) -> str:
    """Inline code for an identifier (a commit, a digest): shown exactly as recorded, which
    a Markdown code span cannot promise (its content keeps backslashes, a backtick ends it).
    """
    return f"<code>{md(text)}</code>"


#: Characters of a long identifier a table cell shows before the ellipsis.
SHORT = 16


def digest(text: object, keep: int = SHORT) -> str:
    """A digest, commit or id for a table cell: at most ``keep`` characters and an ellipsis,
    the whole value in the element's title (shown on hover, and copied with the text)."""
    if text is None:
        return ""
    value = " ".join(_text(text).split())
    if len(value) <= keep + 1:
        return literal(value)
    return f'<code title="{_attribute(value)}">{md(value[:keep])}…</code>'


def mermaid_link(target: str) -> str:
    """A double-quoted link target for a mermaid ``click`` line: percent-encoded, so it can
    hold no quote, space or mermaid syntax."""
    return '"' + quote(_text(target), safe="/#.-_~") + '"'
