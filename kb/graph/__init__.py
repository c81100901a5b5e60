"""The only package that speaks Cypher: typed functions over a Neo4j ``Graph``."""

from .driver import Graph, plain
from .schema import SCHEMA_VERSION, apply_schema, schema_version
from .write import WriteResult, apply, prepare

__all__ = ["SCHEMA_VERSION", "Graph", "WriteResult", "apply", "apply_schema", "plain", "prepare",
           "schema_version"]
from .entities import exists, show
from .lineage import impact, lineage
from .production import deployments
from .training import who_trained

__all__ += ["deployments", "exists", "impact", "lineage", "show", "who_trained"]
