"""Importing a team's MLflow store leaves it exactly as it was, whichever MLflow wrote it.

Stores are written by a subprocess: with the other MLflow version that ``scripts/setup.sh``
installs in ``.venv-mlflow-other/`` (an older schema head than kb's), or with kb's own.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from typer.testing import CliRunner

from kb.cli import app
from kb.domain import Label, Ref
from kb.errors import InvalidInput
from kb.graph import Graph, show, who_trained
from kb.graph.stats import counts
from kb.ingest.mlflow_import import import_mlflow, run_key

ROOT = Path(__file__).resolve().parents[2]
OTHER_PYTHON = ROOT / ".venv-mlflow-other" / "bin" / "python"
SCRIPT = Path(__file__).with_name("mlflow_team_store.py")
REPO = "https://github.com/acme/churn.git"


def _other_python() -> str:
    if not OTHER_PYTHON.exists():
        pytest.fail(f"{OTHER_PYTHON} is missing: run scripts/setup.sh, which installs the "
                    "second MLflow these tests write stores with")
    return str(OTHER_PYTHON)


def _team_store(python: str, action: str, uri: str, cwd: Path) -> dict:
    done = subprocess.run([python, str(SCRIPT), action, uri], cwd=cwd, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _tree(root: Path) -> dict[str, str]:
    """Every directory, file (by content hash) and link under ``root``."""
    seen = {}
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        if path.is_symlink():
            seen[name] = f"link {path.readlink()}"
        elif path.is_dir():
            seen[name] = "dir"
        else:
            seen[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return seen


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The team's directory: ``store/`` for the store, ``work/`` the working directory."""
    root = tmp_path / "team"
    (root / "store").mkdir(parents=True)
    (root / "work").mkdir()
    monkeypatch.chdir(root / "work")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("KB_MLFLOW_UI_URL", raising=False)
    return root


def _our_revision() -> str:
    """The schema head of kb's MLflow, from its migrations."""
    from alembic.script import ScriptDirectory

    migrations = Path(mlflow.__file__).parent / "store" / "db_migrations"
    return ScriptDirectory(str(migrations)).get_current_head()


def _revision(db: Path) -> str:
    with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as connection:
        (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    return revision


def test_sqlite_store_of_another_mlflow_schema_is_refused_and_left_as_it_was(
        kb_env, graph: Graph, team: Path):
    db = team / "store" / "mlflow.db"
    uri = f"sqlite:///{db}"
    written = _team_store(_other_python(), "write", uri, team / "work")
    theirs = _revision(db)
    assert theirs != _our_revision()  # else the second MLflow's pin needs a bump
    before, graph_before = _tree(team), counts(graph)

    result = CliRunner().invoke(app, ["import", "mlflow", "--tracking-uri", uri])

    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert f"revision {theirs}" in message and f"revision {_our_revision()}" in message
    assert f"MLflow {mlflow.__version__}" in message
    assert "--tracking-uri at the team's MLflow tracking server" in message
    assert _tree(team) == before  # no migration, no mlflow.db, no mlruns/ anywhere
    assert counts(graph) == graph_before  # nothing half-imported
    assert _team_store(_other_python(), "read", uri, team / "work") == {
        "runs": sorted(written["runs"]), "aliases": {"champion": "2"}}


def test_file_store_of_another_mlflow_is_imported_and_left_as_it_was(
        graph: Graph, team: Path):
    store = team / "store" / "mlruns"
    uri = store.as_uri()
    written = _team_store(_other_python(), "write", uri, team / "work")
    # A store checked out of git has no empty directories: MLflow would make its .trash.
    (store / ".trash").rmdir()
    before = _tree(team)

    result = import_mlflow(graph, uri, actor="tester")

    assert (result.experiments, result.runs, result.model_versions) == (2, 2, 2)
    (fact,) = who_trained(graph, "churn", "2")
    assert fact.aliases == ("champion",) and fact.run_id == run_key(written["runs"][1])
    assert _tree(team) == before
    assert _team_store(_other_python(), "read", uri, team / "work")["aliases"] == {
        "champion": "2"}


def test_sqlite_store_of_our_schema_is_imported_read_only(kb_env, graph: Graph, team: Path,
                                                           monkeypatch: pytest.MonkeyPatch):
    db = team / "store" / "mlflow.db"
    uri = f"sqlite:///{db}"
    written = _team_store(sys.executable, "write", uri, team / "work")
    first, second = written["runs"]
    before = _tree(team)

    result = import_mlflow(graph, uri, actor="tester")

    assert (result.experiments, result.runs, result.model_versions) == (2, 2, 2)
    assert _tree(team) == before
    (fact,) = who_trained(graph, "churn", "2")
    assert fact.aliases == ("champion",) and fact.person == "bob"
    assert fact.repo is None and fact.commit is None  # no repository URL: no guessed repo
    assert {(i.dataset, i.role) for i in fact.inputs} == {
        ("customers", "train"), ("holdout", "test"), ("recent", "validation"),
        ("scores", "other")}
    (one,) = who_trained(graph, "churn", "1")
    assert one.aliases == () and (one.repo, one.commit) == (REPO, "c0ffee2")
    # No UI address is known for a database store: no link rather than one no browser opens.
    assert show(graph, Ref(Label.RUN, run_key(first))).get("trackerUrl") is None

    monkeypatch.setenv("KB_MLFLOW_UI_URL", "http://mlflow.example:5000/")
    done = CliRunner().invoke(app, ["import", "mlflow", "--tracking-uri", uri])
    assert done.exit_code == 0, done.output
    assert show(graph, Ref(Label.RUN, run_key(second)))["trackerUrl"] == (
        f"http://mlflow.example:5000/#/experiments/{written['experiment']}/runs/{second}")
    assert _tree(team) == before


def _other_apps_db(store: Path) -> str:
    with sqlite3.connect(store / "app.db") as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")
    connection.close()
    return f"sqlite:///{store / 'app.db'}"


@pytest.mark.parametrize(("make", "problem"), [
    (lambda store: f"sqlite:///{store / 'nothing.db'}", "there is no SQLite database"),
    (lambda store: (store / "empty.db").touch() or f"sqlite:///{store / 'empty.db'}",
     "is not an MLflow tracking database"),
    (_other_apps_db, "is not an MLflow tracking database"),
    (lambda store: (store / "mlruns").as_uri(), "there is no MLflow file store"),
    (lambda store: str(store / "mlruns"), "there is no MLflow file store"),
], ids=["missing-sqlite", "empty-sqlite", "other-sqlite", "missing-file-uri", "missing-path"])
def test_import_creates_no_store_where_there_is_none(graph: Graph, team: Path, make, problem):
    uri = make(team / "store")
    before, graph_before = _tree(team), counts(graph)
    with pytest.raises(InvalidInput) as caught:
        import_mlflow(graph, uri, actor="tester")
    assert caught.value.field == "--tracking-uri" and problem in caught.value.problem
    assert _tree(team) == before and counts(graph) == graph_before
