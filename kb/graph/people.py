"""What the graph holds true of a person: when one counts as active."""

from __future__ import annotations


def active(var: str) -> str:
    """Cypher that is true while the person ``var`` is active.

    ``active`` decides when it is set; otherwise a person is active while ``leftAt`` is
    unset, so someone nobody marked is still here and a leaving date alone (an older
    graph may hold one without ``active``) means they left. A team has neither property
    and so counts as active. ``var`` is a variable of kb's own statements, never input.
    """
    return f"coalesce({var}.active, {var}.leftAt IS NULL)"
