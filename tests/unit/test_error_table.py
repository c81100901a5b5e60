"""The error table: every Neo4j driver exception leaves kb.graph as one of kb's errors."""

from __future__ import annotations

import inspect

import pytest
from neo4j import exceptions as neo

from kb.errors import Conflict, GraphError, GraphUnavailable, KbError, TimeLimitExceeded
from kb.graph.errors import TABLE, Row, mapped, row_for

SECRET = "MATCH (n {password: 'hunter2'}) RETURN n"


def with_code(kind: type[neo.Neo4jError], code: str, message: str = SECRET
              ) -> neo.Neo4jError:
    """A ``kind`` as the server would send it. The driver's public constructors take no
    code (only the driver builds errors from a server's answer), so a subclass supplies
    it through the public ``code`` and ``message`` properties."""
    coded = type(kind.__name__, (kind,), {"code": property(lambda self: code),
                                         "message": property(lambda self: message)})
    return coded()


def example(row: Row) -> BaseException:
    """An exception that ``row`` is meant to catch."""
    if row.code is not None:
        return with_code(row.kind, row.code.replace("*", ""))  # type: ignore[arg-type]
    if issubclass(row.kind, neo.Neo4jError):
        return with_code(row.kind, "Neo.ClientError.Statement.SomethingNew")
    if issubclass(row.kind, neo.SessionError | neo.TransactionError | neo.ResultError):
        return row.kind(None, "used wrongly")
    return row.kind("connection refused\n  on 127.0.0.1:1")


@pytest.mark.parametrize("row", TABLE, ids=lambda r: f"{r.kind.__name__}:{r.code or '*'}")
def test_each_row_catches_its_own_exception(row: Row) -> None:
    exc = example(row)
    assert row_for(exc) is row
    error = mapped(exc)
    assert isinstance(error, row.error)
    assert "\n" not in error.message
    if issubclass(row.kind, neo.Neo4jError) and "{detail}" not in row.message:
        assert SECRET not in error.message  # a server's message may quote the statement


def driver_exception_classes() -> list[type[BaseException]]:
    return [cls for _, cls in inspect.getmembers(neo, inspect.isclass)
            if issubclass(cls, neo.Neo4jError | neo.DriverError)]


@pytest.mark.parametrize("cls", driver_exception_classes(), ids=lambda c: c.__name__)
def test_every_driver_exception_is_mapped(cls: type[BaseException]) -> None:
    if issubclass(cls, neo.Neo4jError):
        exc: BaseException = with_code(cls, "Neo.DatabaseError.General.UnknownError")
    elif issubclass(cls, neo.SessionError | neo.TransactionError | neo.ResultError):
        exc = cls(None, "used wrongly")  # these take the session, transaction or result
    else:
        exc = cls("failed")
    assert isinstance(mapped(exc), KbError)


def test_unexpected_server_errors_keep_the_code_and_never_the_statement() -> None:
    error = mapped(with_code(neo.CypherSyntaxError, "Neo.ClientError.Statement.SyntaxError"))
    assert isinstance(error, GraphError)
    assert error.server_code == "Neo.ClientError.Statement.SyntaxError"
    assert error.code == "INTERNAL"
    assert "Neo.ClientError.Statement.SyntaxError" in error.message
    assert SECRET not in error.message

    error = mapped(with_code(neo.DatabaseError, "Neo.DatabaseError.General.UnknownError"))
    assert isinstance(error, GraphError)
    assert error.server_code == "Neo.DatabaseError.General.UnknownError"


def test_a_timed_out_transaction_reports_the_request_budget() -> None:
    for code in ("Neo.ClientError.Transaction.TransactionTimedOut",
                 "Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration"):
        error = mapped(with_code(neo.ClientError, code), budget=2.5)
        assert isinstance(error, TimeLimitExceeded)
        assert error.seconds == 2.5


def test_transient_errors_after_retries_say_try_again() -> None:
    for kind, code in ((neo.TransientError, "Neo.TransientError.Transaction.DeadlockDetected"),
                       (neo.DatabaseUnavailable, "Neo.TransientError.General.DatabaseUnavailable"),
                       (neo.NotALeader, "Neo.ClientError.Cluster.NotALeader")):
        exc = with_code(kind, code)
        error = mapped(exc)
        assert isinstance(error, GraphUnavailable)
        assert "try again" in error.message and exc.code in error.message


def test_messages_name_the_setting_to_check_and_the_server() -> None:
    auth = mapped(with_code(neo.AuthError, "Neo.ClientError.Security.Unauthorized"),
                  neo4j="Neo4j at bolt://db:7687")
    assert isinstance(auth, GraphUnavailable)
    assert "Neo4j at bolt://db:7687" in auth.message and "KB_NEO4J_PASSWORD" in auth.message
    missing = mapped(with_code(neo.ClientError, "Neo.ClientError.Database.DatabaseNotFound"))
    assert isinstance(missing, GraphUnavailable) and "KB_NEO4J_DATABASE" in missing.message
    down = mapped(neo.ServiceUnavailable("Couldn't connect to db:7687:\nrefused"))
    assert isinstance(down, GraphUnavailable)
    assert "Couldn't connect to db:7687: refused" in down.message
    assert "KB_NEO4J_URI" in down.message


def test_a_constraint_error_is_a_conflict_with_the_servers_words() -> None:
    error = mapped(with_code(neo.ConstraintError,
                             "Neo.ClientError.Schema.ConstraintValidationFailed",
                             "Node(7) already exists with label `Run` and property `id` = 'r1'"))
    assert isinstance(error, Conflict)
    assert "property `id` = 'r1'" in error.message


def test_a_commit_of_unknown_outcome_says_so() -> None:
    error = mapped(neo.IncompleteCommit("lost"))
    assert isinstance(error, GraphUnavailable) and "may or may not" in error.message


def test_what_is_not_the_databases_doing_is_left_alone() -> None:
    assert mapped(ValueError("x")) is None
    assert mapped(KeyError("x")) is None
    assert isinstance(mapped(ConnectionResetError("reset")), GraphUnavailable)


def test_subclasses_come_before_their_bases() -> None:
    """A row that a row above it always shadows would never be used."""
    for i, row in enumerate(TABLE):
        for earlier in TABLE[:i]:
            shadows = issubclass(row.kind, earlier.kind) and earlier.code is None
            assert not shadows, f"{earlier} hides {row}"


@pytest.mark.parametrize(("error", "code", "shown"), [
    (GraphError("Neo4j refused a statement (X)", server_code="X"), "INTERNAL", False),
    (GraphUnavailable("cannot reach Neo4j"), "GRAPH_UNAVAILABLE", False),
    (Conflict("the write conflicts"), "CONFLICT", True),
    (TimeLimitExceeded(2.0), "LIMIT_EXCEEDED", True),
])
def test_the_api_gives_each_mapped_error_its_code(error: KbError, code: str, shown: bool
                                                  ) -> None:
    from graphql import GraphQLError
    from kb.api.errors import shaped

    sent = shaped(GraphQLError(error.message, original_error=error), "rid-1")
    assert sent.extensions["code"] == code
    assert (sent.message == error.message) is shown  # server faults are masked
