"""kb's errors, one tree for every layer.

    KbError
    ├── InvalidInput      bad input; names the field, the value and the problem
    ├── NotFound          an entity that the caller named does not exist
    ├── Conflict          the write contradicts what the graph already holds
    ├── Unauthorized      no token, or an unknown or revoked one
    ├── Forbidden         a valid token without the scope the action needs
    ├── GraphUnavailable  Neo4j cannot be reached, refused the credentials, or stays busy
    ├── GraphError        Neo4j or its driver failed in a way kb does not expect
    ├── TimeLimitExceeded a request ran past its time budget and was stopped
    └── LocalDbError      the local Neo4j could not be provisioned or started

Lower-layer errors (neo4j, pydantic, subprocess) are mapped once, at the boundary
that meets them, with ``raise KbError(...) from exc``; the Neo4j driver's are mapped by
the table in ``kb.graph.errors``.
"""

from __future__ import annotations


class KbError(Exception):
    """Base of every error kb raises on purpose."""

    code = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(KbError):
    """Raised by validation (kb.domain, kb.ingest) before anything is written."""

    code = "BAD_USER_INPUT"

    def __init__(self, field: str, problem: str, value: object = None) -> None:
        shown = "" if value is None else f" (got {value!r:.80})"
        super().__init__(f"{field}: {problem}{shown}")
        self.field = field
        self.problem = problem
        self.value = value


class NotFound(KbError):
    """Raised by kb.graph lookups and kb.ingest when a referenced entity is missing."""

    code = "NOT_FOUND"

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key!r} does not exist")
        self.kind = kind
        self.key = key


class Conflict(KbError):
    """Raised when a write contradicts the graph (for example a version taken by another run)."""

    code = "CONFLICT"


class Unauthorized(KbError):
    """Raised by kb.api auth when a request carries no valid token."""

    code = "UNAUTHENTICATED"


class Forbidden(KbError):
    """Raised by kb.api auth when the token lacks the scope the action needs."""

    code = "FORBIDDEN"


class GraphUnavailable(KbError):
    """Raised by kb.graph when Neo4j is down, unreachable or refuses the credentials."""

    code = "GRAPH_UNAVAILABLE"


class GraphError(KbError):
    """Raised by kb.graph when Neo4j or its driver fails a unit of work in a way kb does not
    expect (a statement the server refuses, a database error). It carries the server's code
    (or the driver exception's name) but never the statement, which may hold caller data."""

    code = "INTERNAL"

    def __init__(self, message: str, *, server_code: str) -> None:
        super().__init__(message)
        self.server_code = server_code


class TimeLimitExceeded(KbError):
    """Raised by kb.graph when Neo4j stops a transaction at its timeout, and by kb.api
    when a request runs past its time budget."""

    code = "LIMIT_EXCEEDED"
    limit = "time"

    def __init__(self, seconds: float | None) -> None:
        budget = "its time budget" if seconds is None else f"its time budget of {seconds:g} s"
        super().__init__(f"the request ran longer than {budget} and was stopped; ask for "
                         "less in one request")
        self.seconds = seconds


class LocalDbError(KbError):
    """Raised by kb.localdb; the message always names the fix."""

    code = "LOCAL_DB"
