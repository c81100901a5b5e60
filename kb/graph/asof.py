"""What held at an instant ``$asOf``: the validity rules every "as of" read shares.

Each is a Cypher predicate over a variable, with the instant as the ``$asOf`` parameter
(a ``datetime``), so the rule is written once and every as-of statement reads it alike.
"""

from __future__ import annotations

from kb.domain import DeploymentStatus

_RETIRED = DeploymentStatus.RETIRED.value


def existed(var: str, at: str = "$asOf") -> str:
    """The node had been created (importers backdate ``createdAt`` to when it happened)."""
    return f"{var}.createdAt <= {at}"


def retired_at(var: str) -> str:
    """When a deployment stopped; one marked retired without a time stopped when marked."""
    return (f"coalesce({var}.retiredAt, CASE WHEN {var}.status = '{_RETIRED}' "
            f"THEN {var}.updatedAt END)")


def started_at(var: str) -> str:
    """When a deployment went live."""
    return f"coalesce({var}.deployedAt, {var}.createdAt)"


def live(var: str, at: str = "$asOf") -> str:
    """The deployment was serving: started by then and not retired by then."""
    return (f"({started_at(var)} <= {at} AND "
            f"coalesce({retired_at(var)} > {at}, true))")


def held(edge: str, at: str = "$asOf") -> str:
    """An ownership or alias tenure held: begun by then and not yet closed."""
    return f"({edge}.since <= {at} AND coalesce({edge}.until > {at}, true))"
