"""Hand MLflow a store it can read but cannot change.

MLflow's stores write as they open. ``SqlAlchemyStore`` creates the missing tables and
upgrades the schema to its own head whenever a table of its version is missing (a store
written by an older MLflow), then adds the default experiment if there is none; the
``FileStore`` creates its root with a default experiment and its ``.trash``, and the file
registry its ``models/``. A store read that way comes back migrated, and the team's own
MLflow then refuses it.

So MLflow never opens a local store itself: a SQLite file is copied with SQLite's backup
API from a read-only connection, an ``mlruns`` directory is copied without its artifacts,
and MLflow reads the copy, which is deleted afterwards. A SQL store whose schema revision is
not the installed MLflow's head is refused before MLflow opens it. A server database
(PostgreSQL, MySQL, SQL Server) cannot be copied: its revision is checked the same way, so
MLflow opens it only when no migration would run. A tracking server (``http(s)://``,
``databricks``) reads its own store and is used as given.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse
from urllib.request import url2pathname

from kb.errors import InvalidInput

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

_SQL = ("postgresql", "mysql", "mssql")
# Registries MLflow reaches over HTTP, named with or without "://" ("databricks-uc").
_SERVICES = ("databricks", "databricks-uc", "uc")
_EXTRA_HINT = "run: pip install '.[mlflow]'"


@contextlib.contextmanager
def read_only_uris(tracking_uri: str, registry_uri: str | None = None
                   ) -> Iterator[tuple[str, str]]:
    """Yield ``(tracking, registry)`` URIs for MLflow that stand in for the given ones.

    Raises ``InvalidInput`` naming the option when a store is missing, unreadable or of
    another MLflow schema; nothing is written to the given stores either way.
    """
    with tempfile.TemporaryDirectory(prefix="kb-mlflow-", ignore_cleanup_errors=True) as tmp:
        made: dict[str, str] = {}

        def stand_in(uri: str, option: str) -> str:
            if uri not in made:
                made[uri] = _stand_in(uri, Path(tmp) / f"store-{len(made)}", option)
            return made[uri]

        tracking = stand_in(tracking_uri, "--tracking-uri")
        registry = stand_in(registry_uri or tracking_uri, "--registry-uri")
        yield tracking, registry


def _stand_in(uri: str, dest: Path, option: str) -> str:
    if uri.split(":", 1)[0].lower() in _SERVICES:
        return uri
    scheme = urlparse(uri).scheme.lower()
    dialect = scheme.split("+", 1)[0]
    if dialect == "sqlite":
        return _sqlite_copy(uri, dest, option)
    if dialect in _SQL:
        check_schema(uri, option)
        return uri
    if scheme == "file" or len(scheme) <= 1:  # a bare path, or a Windows drive letter
        return _file_store_copy(uri, dest, option)
    return uri


def _sqlite_copy(uri: str, dest: Path, option: str) -> str:
    try:
        from sqlalchemy.engine import make_url
    except ImportError as exc:
        raise InvalidInput("mlflow", f"SQL stores need SQLAlchemy; {_EXTRA_HINT}") from exc
    path = make_url(uri).database
    if not path or path == ":memory:" or path.startswith("file:"):
        raise InvalidInput(option, "must name a SQLite file, like sqlite:///path/mlflow.db", uri)
    source = Path(path).resolve()
    if not source.is_file():
        # MLflow would create an empty store there; kb only reads existing ones.
        raise InvalidInput(option, f"there is no SQLite database at {source}", uri)
    dest.mkdir()
    copy = dest / "mlflow.db"
    try:
        with (contextlib.closing(sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)) as src,
              contextlib.closing(sqlite3.connect(copy)) as dst):
            src.backup(dst)
    except sqlite3.Error as exc:
        raise InvalidInput(option, f"cannot read the SQLite database {source}: {exc}",
                           uri) from exc
    check_schema(f"sqlite:///{copy}", option, shown=uri)
    return f"sqlite:///{copy}"


def _file_store_copy(uri: str, dest: Path, option: str) -> str:
    parsed = urlparse(uri)
    if parsed.scheme.lower() == "file":
        if parsed.netloc not in ("", "localhost"):
            raise InvalidInput(option, "must be a file store on this machine", uri)
        root = Path(url2pathname(parsed.path))
    else:
        root = Path(uri)
    root = root.resolve()
    if not root.is_dir():
        # MLflow would create an empty store there; kb only reads existing ones.
        raise InvalidInput(option, f"there is no MLflow file store at {root}", uri)
    try:
        shutil.copytree(root, dest, symlinks=True, ignore=_artifacts)
    except OSError as exc:
        raise InvalidInput(option, f"cannot read the file store {root}: {exc}", uri) from exc
    return dest.as_uri()


def _artifacts(directory: str, names: list[str]) -> list[str]:
    """The artifacts of a run or logged model: large, and never read by the import."""
    if "meta.yaml" in names and "artifacts" in names and Path(directory, "artifacts").is_dir():
        return ["artifacts"]
    return []


def expected_revision() -> str:
    """The schema revision the installed MLflow works with (its migrations' head)."""
    return _migrations().get_current_head() or ""


def _migrations() -> ScriptDirectory:
    import mlflow
    from alembic.script import ScriptDirectory

    # MLflow ships its Alembic migrations as package data beside its code.
    return ScriptDirectory(str(Path(mlflow.__file__).parent / "store" / "db_migrations"))


def _without_password(db_uri: str) -> str:
    """A server database's URI as errors may show it."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(db_uri).render_as_string(hide_password=True)
    except ArgumentError:
        return "(the database URI given)"


def check_schema(db_uri: str, option: str, shown: str | None = None) -> None:
    """Refuse a SQL store whose schema revision is not the installed MLflow's."""
    try:
        import mlflow
        import sqlalchemy
        from alembic.migration import MigrationContext
        from sqlalchemy.pool import NullPool
    except ImportError as exc:
        raise InvalidInput("mlflow", f"SQL stores need SQLAlchemy and Alembic; {_EXTRA_HINT}"
                           ) from exc
    shown = shown or _without_password(db_uri)
    try:
        engine = sqlalchemy.create_engine(db_uri, poolclass=NullPool)
    except (ImportError, sqlalchemy.exc.SQLAlchemyError) as exc:
        raise InvalidInput(option, f"cannot open the database (is its driver installed?): "
                           f"{exc}", shown) from exc
    try:
        with engine.connect() as connection:
            found = MigrationContext.configure(connection).get_current_revision()
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise InvalidInput(option, f"cannot read the database's schema revision: {exc}",
                           shown) from exc
    finally:
        engine.dispose()
    scripts = _migrations()
    expected = scripts.get_current_head()
    if found is None:
        raise InvalidInput(option, "is not an MLflow tracking database (it has no "
                           "alembic_version table); kb reads existing stores and creates none",
                           shown)
    if found == expected:
        return
    known = {script.revision for script in scripts.walk_revisions()}
    writer = "an older MLflow" if found in known else "another MLflow, newer or unreleased"
    raise InvalidInput(option, (
        f"the store's database schema is revision {found}, written by {writer}, and the "
        f"installed MLflow {mlflow.__version__} expects revision {expected}. kb never "
        "upgrades a store it reads. Run the import from an environment with the team's "
        "MLflow version (pip install 'mlflow-skinny==VERSION' sqlalchemy alembic), or point "
        "--tracking-uri at the team's MLflow tracking server (http://...), which reads its "
        "own store"), shown)
