"""The only package that speaks Cypher: typed functions over a Neo4j ``Graph``."""

from .driver import Graph, plain
from .schema import SCHEMA_VERSION, apply_schema, schema_version
from .write import WriteResult, apply

__all__ = ["SCHEMA_VERSION", "Graph", "WriteResult", "apply", "apply_schema", "plain",
           "schema_version"]
