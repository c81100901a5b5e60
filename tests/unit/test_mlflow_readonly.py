"""Which MLflow stores the import copies, checks or uses as given, without a database."""

from __future__ import annotations

import pytest

from kb.errors import InvalidInput
from kb.ingest.mlflow_readonly import read_only_uris


@pytest.mark.parametrize(("tracking", "registry"), [
    ("http://mlflow.example:5000", None), ("https://mlflow.example", "databricks-uc"),
    ("databricks", None), ("databricks://profile", "uc:databricks-uc://profile")])
def test_tracking_servers_read_their_own_stores(tracking: str, registry: str | None) -> None:
    with read_only_uris(tracking, registry) as uris:
        assert uris == (tracking, registry or tracking)


def test_a_server_database_password_never_shows_in_errors() -> None:
    with pytest.raises(InvalidInput) as caught, read_only_uris(
            "postgresql+nosuchdriver://kb:s3cret@db.example/mlflow"):
        pass
    assert caught.value.field == "--tracking-uri"
    assert "s3cret" not in caught.value.message and "kb:***@db.example" in caught.value.message
