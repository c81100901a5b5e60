"""Which kb person each MLflow user is: ``--user-map``.

A map file holds one ``mlflow_user = kb_handle`` per line; blank lines and lines starting
with ``#`` are skipped. On the command line ``--user-map alice@corp.com=alice`` adds one
pair. A user the map does not name keeps the default: the part of an e-mail address
before ``@`` (``kb.ingest.mlflow_import.person_handle``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from kb.errors import InvalidInput

OPTION = "--user-map"
_HANDLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-+]*")


def parse_pairs(lines: Iterable[str], where: str) -> dict[str, str]:
    """``{mlflow user: kb handle}`` from map lines; ``where`` names them in errors."""
    found: dict[str, str] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, handle = line.partition("=")
        user, handle = user.strip(), handle.strip()
        place = f"{where}, line {number}" if where else f"{line!r}"
        if not sep or not user or not handle:
            raise InvalidInput(OPTION, f"{place}: expected 'mlflow_user = kb_handle'", raw)
        if not _HANDLE.fullmatch(handle):
            raise InvalidInput(OPTION, f"{place}: {handle!r} is not a kb person handle "
                               "(letters, digits and . _ - + , starting with a letter or "
                               "digit)", raw)
        if found.get(user, handle) != handle:
            raise InvalidInput(OPTION, f"{place}: {user!r} is already mapped to "
                               f"{found[user]!r}", raw)
        found[user] = handle
    return found


def load_user_map(values: Iterable[str]) -> dict[str, str]:
    """Each value is a map file or one ``user=handle`` pair; later ones add to earlier."""
    found: dict[str, str] = {}
    for value in values:
        path = Path(value)
        if path.is_file():
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise InvalidInput(OPTION, f"cannot read {path}: {exc}", value) from exc
            pairs = parse_pairs(text.splitlines(), str(path))
        elif "=" in value:
            pairs = parse_pairs([value], "")
        else:
            raise InvalidInput(OPTION, "is neither a map file nor a 'mlflow_user=kb_handle' "
                               "pair", value)
        for user, handle in pairs.items():
            if found.get(user, handle) != handle:
                raise InvalidInput(OPTION, f"{user!r} is mapped to both {found[user]!r} and "
                                   f"{handle!r}", value)
            found[user] = handle
    return found


def mapped(users: Mapping[str, str], user: str | None) -> str | None:
    """The handle the map gives ``user``, if any (exact, else case-insensitive)."""
    if not user:
        return None
    name = user.strip()
    if name in users:
        return users[name]
    lowered = name.lower()
    return next((h for u, h in users.items() if u.lower() == lowered), None)
