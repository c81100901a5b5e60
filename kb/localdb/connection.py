"""What a caller needs to reach Neo4j, wherever it runs."""

from __future__ import annotations

from dataclasses import dataclass

from kb.config import Secret


@dataclass(frozen=True)
class Connection:
    """Bolt address and credentials; ``managed`` is True when kb.localdb owns the server."""

    uri: str
    user: str
    password: Secret
    database: str
    managed: bool
