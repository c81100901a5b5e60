"""What held at an instant: the Cypher for each "as of" rule, shared by every reader.

Each function returns a predicate over a variable of kb's own statements (never input)
and the parameter that holds the instant, ``$asOf`` unless told. A missing stamp never
counts as "after": a node without ``createdAt`` did not exist yet, an edge or person
without an end stamp still holds.
"""

from __future__ import annotations

from datetime import datetime

from kb.domain.when import utc

#: The parameter every as-of statement reads the instant from.
AS_OF = "$asOf"


def existed(var: str, at: str = AS_OF) -> str:
    """The node ``var`` had been created by then (importers backdate ``createdAt``)."""
    return f"{var}.createdAt <= {at}"


def held(edge: str, at: str = AS_OF) -> str:
    """The tenure ``edge`` (an OWNS or ALIAS edge) was open then."""
    return f"({edge}.since <= {at} AND coalesce({edge}.until > {at}, true))"


def left_at(var: str) -> str:
    """When the person ``var`` left: ``leftAt``, or ``updatedAt`` for one only marked
    inactive; null while they are still here."""
    return (f"coalesce({var}.leftAt, "
            f"CASE WHEN {var}.active = false THEN {var}.updatedAt END)")


def active_at(var: str, at: str = AS_OF) -> str:
    """The person ``var`` existed and had not left by then; a team has no leaving date
    and so counts once it exists."""
    return f"({existed(var, at)} AND coalesce({left_at(var)} > {at}, true))"


def retired_at(var: str) -> str:
    """When the deployment ``var`` was retired: ``retiredAt``, or ``updatedAt`` for a
    retired one without it; null while it serves."""
    return (f"coalesce({var}.retiredAt, "
            f"CASE WHEN {var}.status = 'RETIRED' THEN {var}.updatedAt END)")


def deployed_at(var: str) -> str:
    """When the deployment ``var`` went live."""
    return f"coalesce({var}.deployedAt, {var}.createdAt)"


def live(var: str, at: str = AS_OF) -> str:
    """The deployment ``var`` was serving then."""
    return f"({deployed_at(var)} <= {at} AND coalesce({retired_at(var)} > {at}, true))"


def retired_by(var: str, at: str = AS_OF) -> str:
    """The deployment ``var`` had gone live and been retired by then."""
    return f"({deployed_at(var)} <= {at} AND {retired_at(var)} <= {at})"


def instant(as_of: datetime | None) -> datetime | None:
    """``as_of`` in UTC, as the graph stores every time; None stays None (now)."""
    return None if as_of is None else utc(as_of)
