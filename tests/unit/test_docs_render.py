"""Slugs, escaping and rendering of a fixed page model, against golden files."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import yaml

from docs_gen.collect import model_pages
from docs_gen.escape import cell, md, mermaid_label
from docs_gen.render import render
from docs_gen.slugs import slug

GOLDEN = Path(__file__).parent / "golden"


def test_slugs_are_safe_stable_and_distinct() -> None:
    assert slug("churn") == "churn"
    assert slug("churn-v2.1") == "churn-v2.1"
    names = ["team/vision", "team vision", "Team-Vision", "tëam vision", "a/../b", "###", "名前"]
    slugs = [slug(n) for n in names]
    assert len(set(slugs)) == len(names)
    for s in slugs:
        assert s and "/" not in s and " " not in s and ".." not in s and s.isascii()
    assert slug("team/vision") == slug("team/vision")
    assert slug("team/vision").startswith("team-vision-")


def test_markdown_and_mermaid_escaping() -> None:
    assert md("*a* [b](c) <script> #1 | x_y") == (
        "\\*a\\* \\[b\\]\\(c\\) &lt;script&gt; \\#1 \\| x\\_y".replace("&gt;", "\\>"))
    assert cell("two\nlines|pipe") == "two lines\\|pipe"
    assert mermaid_label('a "b" <c> #d') == '"a #quot;b#quot; #lt;c#gt; #35;d"'


def _fixture() -> dict:
    at = datetime(2024, 5, 12, 12, 0, tzinfo=UTC)
    run = {"id": "run-2", "name": "train", "status": "COMPLETED", "startedAt": at,
           "endedAt": at, "params": '{"lr":0.02}', "metrics": '{"auc":0.86}',
           "command": "python train.py", "seed": 42, "updatedAt": at}
    return {
        "models": [{"model": {"name": "churn *v*", "task": "classification",
                              "description": "Predicts | churn", "license": "mit",
                              "updatedAt": at},
                    "owners": [{"kind": "Person", "key": "alice", "role": "owner",
                                "since": at, "until": None, "active": False}],
                    "notes": [], "teams": ["growth"]}],
        "versions": [{"model": "churn *v*",
                      "version": {"version": "2", "key": "churn *v*@2", "updatedAt": at,
                                  "aliases": ["prod"]},
                      "run": run, "trainedBy": "bob",
                      "code": {"repo": "github.com/acme/churn", "commit": "abc"},
                      "environment": {"digest": "env1", "packages": ["b==1", "a==2"]},
                      "experiment": None,
                      "inputs": [{"key": "raw/x@1", "dataset": "raw/x", "version": "1",
                                  "digest": "sha256:1", "rows": 3, "role": "train"}],
                      "deployments": []}],
        "derivations": [{"src": "src@0", "dst": "raw/x@1", "run": "d", "kind": "derivation"}],
    }


def test_model_card_matches_the_golden_file() -> None:
    (page,) = model_pages(_fixture())
    assert page.path == "models/churn-v-" + slug("churn *v*").rsplit("-", 1)[1] + ".md"
    text = render(page)
    assert text == render(model_pages(_fixture())[0])  # deterministic
    meta = yaml.safe_load(text.split("---\n", 2)[1])
    assert meta["model-index"][0]["results"][0]["metrics"][0]["value"] == 0.86
    golden = GOLDEN / "model_card.md"
    if os.environ.get("KB_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()
