"""The site after a delete or a forget: the deleted entity's page, and every trace of the
forgotten person's handle, name and email, are gone from every file of the built site
(pages, search index, sitemap), after an incremental sync as after a full build."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import pytest
from test_docs_hostile import HOSTILE

from docs_gen import build_site, sync_site
from docs_gen.build import clean, docs_dir
from kb.graph import Graph
from kb.ingest import Client

REPO = Path(__file__).resolve().parents[2]

#: Every trace of the person holds this, in any case: the handle, the name, the email.
TRACE = b"zephyr"
HANDLE = "zephyrq"
NAME = "Zephyrine " + HOSTILE[1]
EMAIL = "zephyrine.quartzwell@example.org"
#: What the deleted model's name leaves in a file that still lists it.
DELETED = b"mistaken-model-qq"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A copy of the repository's mkdocs project, so tests never touch site/."""
    target = tmp_path / "site"
    shutil.copytree(REPO / "site", target, ignore=shutil.ignore_patterns("generated", "build"))
    return target


def _mermaid() -> Path | None:
    raw = os.environ.get("KB_MERMAID_JS")
    return Path(raw) if raw else None


def holding(folder: Path, needle: bytes) -> list[str]:
    """Files under ``folder`` whose bytes (decompressed, for a .gz) hold ``needle`` in any
    case."""
    found = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        if needle in data.lower():
            found.append(str(path.relative_to(folder)))
    return found


def story(graph: Graph, client: Client) -> None:
    me = Client(graph, actor=HANDLE, default_person=HANDLE)
    client.team("vision")
    client.person("bob", name="Bob Stone", team="vision")
    me.person(HANDLE, name="Zephyrine Q.", email=EMAIL, team="vision")
    me.person(HANDLE, name=NAME)
    me.log_run(id="r-good", experiment="churn-exp", models=[{"model": "churn"}])
    me.own("model:churn", owner=f"person:{HANDLE}")
    me.transfer("model:churn", to="person:bob", from_=f"person:{HANDLE}")
    me.note("model:churn", "Calibrated on the spring data.")
    client.log_run(id="r-mistake", experiment="churn-exp", person="bob",
                   models=[{"model": "mistaken-model-qq"}])
    client.note("model:mistaken-model-qq", "written by mistake", by="bob")


@pytest.mark.slow
def test_a_sync_after_a_delete_drops_the_page_everywhere(graph, client, site):
    story(graph, client)
    built = build_site(graph, site, mermaid=_mermaid())
    assert (built.out_dir / "models/mistaken-model-qq/index.html").is_file()
    assert holding(built.out_dir, DELETED)
    client.delete("model:mistaken-model-qq", cascade=True, reason="typo")
    client.delete("run:r-mistake", reason="typo")
    result = sync_site(graph, site, mermaid=_mermaid())
    assert result.removed == ["models/mistaken-model-qq.md", "runs/r-mistake.md"]
    # only the Recent changes page names them, as deleted (and so its search entry)
    listed = ["changes/index.html", "search/search_index.json"]
    assert holding(result.out_dir, DELETED) == listed
    assert holding(result.out_dir, b"r-mistake") == listed
    assert "deleted (reason: typo)" in (result.out_dir / listed[0]).read_text()
    search = json.loads((result.out_dir / listed[1]).read_text())["docs"]
    assert not [d for d in search if "mistake" in d["location"]]
    assert set(holding(docs_dir(site), DELETED)) <= {"changes.md"}
    assert not (result.out_dir / "models/mistaken-model-qq").exists()
    # the pages that listed them were rendered again; nothing is left to do
    assert "models/index.md" in result.written and "changes.md" in result.written
    assert sync_site(graph, site, mermaid=_mermaid()).written == []


@pytest.mark.slow
def test_a_sync_after_a_forget_leaves_no_trace_of_the_person(graph, client, site):
    story(graph, client)
    built = build_site(graph, site, mermaid=_mermaid())
    assert (built.out_dir / f"people/{HANDLE}/index.html").is_file()
    assert holding(built.out_dir, TRACE)  # the check can fail
    new = client.forget(HANDLE, reason="asked to be forgotten").pseudonym
    result = sync_site(graph, site, mermaid=_mermaid())
    assert f"people/{HANDLE}.md" in result.removed
    assert holding(result.out_dir, TRACE) == []
    assert holding(docs_dir(site), TRACE) == []
    page = (result.out_dir / f"people/{new}/index.html").read_text()
    assert "Former member" in page and "erased email, handle, name" in page
    assert not (result.out_dir / f"people/{HANDLE}").exists()
    # a full build from nothing shows no trace either
    clean(site)
    shutil.rmtree(result.out_dir)
    again = build_site(graph, site, mermaid=_mermaid())
    assert holding(again.out_dir, TRACE) == []
    assert (again.out_dir / f"people/{new}/index.html").is_file()
