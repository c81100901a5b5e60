"""Change records (``kb.domain.changes``) as pages show them: one line each saying what
changed ("status RUNNING → COMPLETED", "owner alice → bob", "created").

Lines are plain text; the templates escape them like any other recorded value.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from kb.domain.changes import ChangeFact, LinkChange

#: Characters of one recorded value a summary shows before an ellipsis.
VALUE_SHOWN = 40
#: Parts (fields, links) a summary names before it gives the count of the rest.
PARTS_SHOWN = 4

#: Fields kept only to index others (a run's metric names beside its metrics): the summary
#: names the field they index instead.
_DERIVED = frozenset({"metricKeys", "paramKeys"})
_WHOLE = {"create": "created", "delete": "deleted", "erase": "erased", "migrate": "migrated"}
#: Links the summary names by what they mean rather than by their type.
_OWNED = "OWNS"
_ALIAS = "ALIAS"


def value(raw: Any) -> str:
    """A recorded value, short: lists joined, nothing as "none", long text cut."""
    if raw is None or raw == [] or raw == "":
        return "none"
    if isinstance(raw, list | tuple):
        text = ", ".join(value(v) for v in raw)
    elif isinstance(raw, bool):
        text = "true" if raw else "false"
    else:
        text = " ".join(str(raw).split())
    return text if len(text) <= VALUE_SHOWN else text[:VALUE_SHOWN - 1] + "…"


def _ownership(links: list[LinkChange]) -> list[str]:
    by_role: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for link in links:
        role = link.props.get("role") or ""
        role = "" if role == "owner" else role  # the usual role goes without saying
        by_role[role][link.action].append(link.key)
    parts = []
    for role in sorted(by_role):
        name = f"owner ({role})" if role else "owner"
        gone, came = sorted(by_role[role]["close"]), sorted(by_role[role]["add"])
        if gone and came:
            parts.append(f"{name} {', '.join(gone)} → {', '.join(came)}")
        elif came:
            parts.append(f"{name} {', '.join(came)} added")
        else:
            parts.append(f"{name} {', '.join(gone)} removed")
    return parts


def _aliases(links: list[LinkChange]) -> list[str]:
    by_alias: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for link in links:
        by_alias[str(link.props.get("alias") or "")][link.action].append(link.key)
    parts = []
    for alias in sorted(by_alias):
        gone, came = sorted(by_alias[alias]["close"]), sorted(by_alias[alias]["add"])
        if gone and came:
            parts.append(f"alias {alias}: {', '.join(gone)} → {', '.join(came)}")
        elif came:
            parts.append(f"alias {alias} → {', '.join(came)}")
        else:
            parts.append(f"alias {alias} left {', '.join(gone)}")
    return parts


def _other(link: LinkChange) -> str:
    sign = "+" if link.action == "add" else "−"
    return f"{sign} {link.rel} {link.key}"


def summary(change: ChangeFact) -> str:
    """One line saying what ``change`` did, its parts in a fixed order."""
    whole = _WHOLE.get(change.op)
    if change.op == "erase":  # what was erased, by name: its values are gone
        whole = f"erased {', '.join(sorted(change.fields))}"
    if change.reason:
        whole = f"{whole or change.op} (reason: {value(change.reason)})"
    parts = [whole] if whole else []
    if change.op not in ("create", "erase"):
        parts += [f"{name} changed, value erased" if before is None and after is None
                  else f"{name} {value(before)} → {value(after)}"
                  for name, (before, after) in sorted(change.fields.items())
                  if name not in _DERIVED]
    owned = [x for x in change.links if x.rel == _OWNED]
    aliases = [x for x in change.links if x.rel == _ALIAS]
    parts += _ownership(owned) + _aliases(aliases)
    if change.op != "create":
        parts += [_other(x) for x in change.links if x.rel not in (_OWNED, _ALIAS)]
    if not parts:
        return "changed"
    rest = len(parts) - PARTS_SHOWN
    if rest > 1:
        parts = [*parts[:PARTS_SHOWN], f"{rest} more"]
    return "; ".join(parts)
