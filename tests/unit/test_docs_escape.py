"""The site's escaping policy, one surface at a time, through the site's own Markdown."""

from __future__ import annotations

import html
import re
import shlex

import markdown
import pytest
import yaml

from docs_gen import escape
from docs_gen.render import front_matter
from docs_gen.reproduce import simple, snippet


def _html(text: str) -> str:
    """Markdown to HTML with the extensions of site/mkdocs.yml that parse blocks."""
    return markdown.markdown(text, extensions=["tables", "admonition", "attr_list",
                                               "pymdownx.superfences"])


@pytest.mark.parametrize("content", [
    "python train.py\n```\n<img src=x onerror=alert(1)>",
    "````\n<b>bold</b>\n````",
    "a ``````` b\n```````\n<script>alert(1)</script>",
    "~~~\n<i>x</i>\n~~~",
    "   ```\n<u>x</u>",
])
def test_a_code_block_cannot_be_closed_by_its_content(content: str) -> None:
    page = _html(f"before\n\n{escape.code(content, 'bash')}\n\n<!-- -->after *emphasis*")
    assert page.count("<pre") == 1 and page.count("</pre>") == 1
    assert re.search(r"<(img|b|script|i|u)\b", page) is None
    code = page[page.index("<pre"):page.index("</pre>")]
    assert html.unescape(re.sub(r"<[^>]+>", "", code)).strip("\n") == content
    assert "<em>emphasis</em>" in page  # the page goes on after the block


@pytest.mark.parametrize(("value", "href"), [
    ("https://tracker.example/runs/1", "https://tracker.example/runs/1"),
    ("http://x.example/a b(c)\"<d>", "http://x.example/a%20b%28c%29%22%3Cd%3E"),
    ("javascript:alert(1)", None),
    ("JavaScript:alert(1)", None),
    (" javascript:alert(1)", None),
    ("data:text/html,<script>alert(1)</script>", None),
    ("vbscript:msgbox(1)", None),
    ("s3://bucket/model.pkl", None),
    ("//evil.example/x", None),
    ("models/../../etc", None),
    ("https://x.example/\nnext", None),
])
def test_only_absolute_http_urls_become_links(value: str, href: str | None) -> None:
    page = _html(f"| Tracker | {escape.url(value)} |\n|---|---|\n")
    links = re.findall(r'<a href="([^"]*)"', page)
    assert links == ([href] if href else []), page
    assert "<script" not in page


def test_title_and_tags_are_escaped_for_the_theme() -> None:
    text = front_matter({"title": "</title><script>alert(1)</script>",
                         "tags": ["team: <img src=x onerror=alert(1)>", "task: a & b"],
                         "license": "<mit>"})
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["title"] == "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
    assert meta["tags"] == ["team: &lt;img src=x onerror=alert(1)&gt;", "task: a &amp; b"]
    assert meta["license"] == "<mit>"  # data for other tools, not shown by the theme


def test_notes_keep_markdown_and_lose_anything_that_runs() -> None:
    body = ("**bold** and *em* with `code`\n\n- item\n\n"
            "<script>alert(1)</script><img src=x onerror=alert(2)>"
            '<a href="javascript:alert(3)" onclick="alert(4)">a</a> '
            "[js](javascript:alert(5)) [data](data:text/html,x) [ok](https://ok.example/) "
            "[rel](../models/churn/)\n\n```\n</div><script>alert(6)</script>\n```\n")
    out = escape.note(body)
    assert "<strong>bold</strong>" in out and "<em>em</em>" in out
    assert "<code>code</code>" in out and "<li>item</li>" in out
    assert 'href="https://ok.example/"' in out and 'href="../models/churn/"' in out
    for gone in ("<script", "<img", "onerror", "onclick", "javascript:", "data:"):
        assert gone not in out.lower(), gone
    assert "\n" not in out and out.count("<div") == 1 and out.endswith("</div>")
    # in a page, the note stays one raw block: its fence starts no code block of the page
    page = _html(f"# Notes\n\n{out}\n\n— *author*\n")
    assert "<script" not in page and "<em>author</em>" in page


def test_markdown_text_stays_on_its_line_and_literal() -> None:
    assert escape.md("*a* [b](c) <script> #1 | x_y") == (
        "\\*a\\* \\[b\\]\\(c\\) &lt;script\\> \\#1 \\| x\\_y")
    assert escape.md("name\n---\n<b>") == "name \\-\\-\\- &lt;b\\>"
    assert escape.md("a\x02wzxhzdk:0\x03b") == "a\ufffdwzxhzdk:0\ufffdb"
    assert escape.cell("two\nlines|pipe") == "two lines\\|pipe"
    assert escape.block("a\n<b>\r\nc") == "a  \n&lt;b\\>  \nc"


LITERAL = [
    "*a* [b](c) <script>x</script> #1 | x_y ~ a=b \\ `x` &amp; {: .c} <!-- c -->",
    "1. not a list", "- not a list", "+ no", "# not a heading", "> not a quote",
    "!!! note", "~~~", "```", "[x]: https://x.example", "<https://x.example>", "a  \\",
]


def _shown(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


@pytest.mark.parametrize("value", LITERAL)
def test_markdown_text_is_shown_exactly_as_recorded(value: str) -> None:
    assert _shown(_html(escape.md(value))) == " ".join(value.split())
    assert _shown(_html(f"| x |\n|---|\n| {escape.cell(value)} |")) == "x " + " ".join(
        value.split())


def test_a_block_keeps_its_lines_and_makes_no_structure() -> None:
    text = "\n".join([*LITERAL, "Title", "===", "    indented", "---"])
    page = _html(escape.block(text))
    assert re.search(r"<(h\d|pre|ol|ul|blockquote|hr|table|div|script)\b", page) is None
    assert _shown(page) == " ".join(text.split())


def test_mermaid_labels_cannot_leave_their_quotes_or_direct_mermaid() -> None:
    label = escape.mermaid_label('a "b" <c> #d\n%%{init: {"securityLevel": "loose"}}%%')
    assert label == ('"a #quot;b#quot; #lt;c#gt; #35;d #37;#37;{init: '
                     '{#quot;securityLevel#quot;: #quot;loose#quot;}}#37;#37;"')


def test_the_reproduce_snippet_runs_exactly_what_it_shows() -> None:
    code = {"repo": "https://x.example/r.git; rm -rf ~", "commit": "$(id)"}
    r = snippet(code, "python train.py --name 'my run' --lr=0.1")
    assert r is not None and r["withheld"] is None
    clone, checkout, command = r["script"].split("\n")
    assert shlex.split(clone)[:4] == ["git", "clone", "--", code["repo"]]
    assert shlex.split(checkout) == ["git", "checkout", "$(id)"]
    assert command == "python train.py --name 'my run' --lr=0.1"
    dash = snippet({"repo": "--upload-pack=evil", "commit": "-b"}, "make")
    assert dash is not None
    assert dash["script"].split("\n")[1] == "git checkout --end-of-options -b"
    assert shlex.split(dash["script"].split("\n")[0])[2:4] == ["--", "--upload-pack=evil"]


@pytest.mark.parametrize("command", [
    "python train.py\nrm -rf ~", "python train.py; curl x | sh", "python $(whoami).py",
    "python `id`.py", "python train.py > out", "python train.py &", "python *.py",
    "python ~/train.py", 'python "$HOME/x.py"', "python train.py # note",
    "python train.py \u202e", "python train.py 'unclosed", "echo hi!",
])
def test_a_command_with_shell_syntax_is_withheld(command: str) -> None:
    assert not simple(command)
    r = snippet({"repo": "r", "commit": "c"}, command)
    assert r is not None and r["withheld"] == command and command not in r["script"]
