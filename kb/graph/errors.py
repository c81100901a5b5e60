"""The one table from the Neo4j driver's failures to kb's errors.

Each row names a driver exception class (and, for server errors, a pattern of Neo4j
codes), the kb error it becomes and the message that error carries. Rows are tried in
order and the first match wins, so a subclass or a code comes before its base class. The
last rows catch every ``Neo4jError`` and ``DriverError``, so nothing the driver raises
leaves ``kb.graph`` unmapped.

Messages may name ``{neo4j}`` (the server, with its address where known), ``{code}`` (the
server's code, or the driver exception's class) and ``{detail}``. ``{detail}`` is the
driver's own text, used only where it cannot hold a statement: a server's message may quote
the Cypher it failed on, so unexpected server errors keep only their code.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from neo4j import exceptions as neo

from kb.errors import Conflict, GraphError, GraphUnavailable, KbError, TimeLimitExceeded


@dataclass(frozen=True)
class Row:
    """Driver exceptions of ``kind`` (with a code matching ``code``) become ``error``."""

    kind: type[BaseException]
    error: type[KbError]
    message: str
    code: str | None = None  # an fnmatch pattern over ``Neo4jError.code``

    def matches(self, exc: BaseException) -> bool:
        if not isinstance(exc, self.kind):
            return False
        return self.code is None or fnmatchcase(getattr(exc, "code", None) or "", self.code)


_TRY_AGAIN = "; try again shortly"
_READ_ONLY = "{neo4j} refused the write: the database is read-only ({code})"
_STOPPED = "{neo4j} stopped the transaction before it ended ({code})" + _TRY_AGAIN

TABLE: tuple[Row, ...] = (
    # -- the server refused or stopped a transaction -------------------------------------
    Row(neo.ClientError, TimeLimitExceeded, "",  # it words its own message, with the budget
        code="Neo.ClientError.Transaction.TransactionTimedOut*"),
    Row(neo.ConstraintError, Conflict, "the write conflicts with existing data: {detail}"),
    Row(neo.AuthError, GraphUnavailable,
        "{neo4j} refused the credentials; check KB_NEO4J_USER and KB_NEO4J_PASSWORD"),
    Row(neo.Forbidden, GraphUnavailable,
        "{neo4j} does not allow its user to do this ({code}); check KB_NEO4J_USER and "
        "the user's privileges", code="Neo.ClientError.Security.Forbidden"),
    Row(neo.Forbidden, GraphUnavailable, _READ_ONLY, code="Neo.ClientError.General.ReadOnly"),
    Row(neo.ClientError, GraphUnavailable,
        "{neo4j} has no such database ({code}); check KB_NEO4J_DATABASE",
        code="Neo.ClientError.Database.DatabaseNotFound"),
    Row(neo.ClientError, GraphUnavailable, _STOPPED, code="Neo.ClientError.Transaction.Terminated"),
    Row(neo.ClientError, GraphUnavailable, _STOPPED,
        code="Neo.ClientError.Transaction.LockClientStopped"),
    Row(neo.ForbiddenOnReadOnlyDatabase, GraphUnavailable, _READ_ONLY),
    # retried by the driver for as long as kb allows before it is raised
    Row(neo.TransientError, GraphUnavailable,
        "{neo4j} kept failing with a transient error ({code})" + _TRY_AGAIN),
    Row(neo.ClientError, GraphError,
        "{neo4j} refused a statement kb sent ({code}); please report this as a bug in kb"),
    Row(neo.DatabaseError, GraphError,
        "{neo4j} failed with a database error ({code}); see the Neo4j server's log"),
    Row(neo.Neo4jError, GraphError, "{neo4j} answered with an unexpected error ({code})"),
    # -- the driver could not reach the server or use the connection ---------------------
    Row(neo.IncompleteCommit, GraphUnavailable,
        "the connection to {neo4j} was lost during a commit: the write may or may not "
        "have been saved; check before writing it again"),
    Row(neo.ServiceUnavailable, GraphUnavailable,
        "cannot reach {neo4j}: {detail}; run `kb up` or check KB_NEO4J_URI"),
    Row(neo.SessionExpired, GraphUnavailable,
        "{neo4j} ended the session: {detail}" + _TRY_AGAIN),
    Row(neo.ConnectionPoolError, GraphUnavailable,
        "no connection to {neo4j} was free in time: {detail}" + _TRY_AGAIN),
    Row(neo.ConfigurationError, GraphUnavailable,
        "the settings for {neo4j} are not usable: {detail}; check KB_NEO4J_URI"),
    # sessions, transactions and results used wrongly: kb's own mistake
    Row(neo.DriverError, GraphError,
        "the Neo4j driver refused an operation ({code}); please report this as a bug in kb"),
    Row(OSError, GraphUnavailable, "{neo4j} became unreachable: {detail}"),
)


def row_for(exc: BaseException) -> Row | None:
    """The first row of ``TABLE`` that matches ``exc``, or None."""
    return next((row for row in TABLE if row.matches(exc)), None)


def mapped(exc: BaseException, *, neo4j: str = "Neo4j", budget: float | None = None
           ) -> KbError | None:
    """The kb error ``exc`` means, or None when it is not the database's or driver's doing.

    ``neo4j`` names the server in messages; ``budget`` is the time budget (seconds) of the
    request a timed-out transaction belonged to, if any.
    """
    row = row_for(exc)
    if row is None:
        return None
    if row.error is TimeLimitExceeded:
        return TimeLimitExceeded(budget)
    server_code = getattr(exc, "code", None) if isinstance(exc, neo.Neo4jError) else None
    code = server_code or type(exc).__name__
    detail = exc.message if isinstance(exc, neo.Neo4jError) else str(exc)
    detail = " ".join(detail.split())  # the driver's text spans lines; an error is one
    message = row.message.format(neo4j=neo4j, code=code, detail=detail)
    if row.error is GraphError:
        return GraphError(message, server_code=code)
    return row.error(message)
