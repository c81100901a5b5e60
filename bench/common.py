"""What several benchmarks share: the guard that keeps them off a database they did not
get for themselves."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

from kb.config import Config


def dedicated_home(config: Config) -> bool:
    """Whether ``KB_HOME`` names a home of its own (not ``~/.kb``) with its local Neo4j."""
    home = os.environ.get("KB_HOME")
    return bool(home and not config.neo4j_uri
                and Path(home).expanduser().resolve() != (Path.home() / ".kb").resolve())


def refuse_unless_allowed(config: Config, yes: bool, banner: Iterable[str]) -> None:
    """Print ``banner`` (what the bench does to the database), then exit unless ``--yes``
    was given or the database is the local one of a dedicated ``KB_HOME``."""
    for line in banner:
        print(line)
    if yes or dedicated_home(config):
        return
    print("refusing: pass --yes, or point KB_HOME at a home used only for benchmarks "
          "(and unset KB_NEO4J_URI)", file=sys.stderr)
    sys.exit(2)


def where(config: Config) -> str:
    """The database a bench connects to, for its banner."""
    return config.neo4j_uri or f"the local Neo4j under {config.home}"
