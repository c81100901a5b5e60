"""GraphiQL's page and the npm helper that fetches its assets, without a server."""

from __future__ import annotations

import re

import pytest

from docs_gen import vendor
from kb import npm
from kb.api import graphiql

_EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)


def test_the_page_names_only_its_own_assets():
    text = graphiql.page_html("/root" + graphiql.PREFIX)
    assert not _EXTERNAL.search(text)
    for asset in graphiql.ASSETS:
        assert f'"/root{graphiql.PREFIX}/{asset.name}"' in text


def test_the_base_path_is_escaped():
    text = graphiql.page_html('/x"><script>alert(1)</script>')
    assert "<script>alert(1)" not in text and "&quot;&gt;" in text


def test_every_asset_has_a_browser_type():
    for asset in graphiql.ASSETS:
        kind = "javascript" if asset.name.endswith(".js") else "css"
        assert asset.media_type.startswith(f"text/{kind}"), asset
        assert "@" in asset.spec.lstrip("@"), f"{asset.spec} is not pinned"


def test_without_npm_the_helper_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(npm.NpmError, match="npm is not installed"):
        npm.extract("react@18.2.0", {"package/umd/react.production.min.js": tmp_path / "r.js"})
    assert not (tmp_path / "r.js").exists()
    # the site's scripts do without, as before
    assert vendor.fetch(tmp_path, vendor.MERMAID) is None


def test_fetching_without_npm_leaves_nothing_half_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(graphiql, "venv_dir", lambda: None)
    with pytest.raises(npm.NpmError):
        graphiql.fetch(tmp_path)
    assert graphiql.installed(tmp_path) is None
    monkeypatch.setenv("KB_HOME", str(tmp_path))
    assert graphiql.main([]) == 1  # the command fails, and says why on stderr
