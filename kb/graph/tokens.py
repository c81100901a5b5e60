"""API tokens: stored as sha256 hashes on ``(:ApiToken)`` nodes, the secret shown once.

Token writes are admin operations of the server, not metadata: they never pass through
the metadata write path and nothing in the knowledge graph links to them.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from neo4j import ManagedTransaction

from kb.errors import Conflict, InvalidInput, NotFound

from .driver import Graph
from .schema import create_missing
from .stamps import read_stamp

log = logging.getLogger(__name__)

SCOPES = ("read", "write", "admin")
#: What each scope includes: admin includes write, write includes read.
IMPLIED: dict[str, frozenset[str]] = {
    "read": frozenset({"read"}),
    "write": frozenset({"read", "write"}),
    "admin": frozenset({"read", "write", "admin"}),
}
PREFIX = "kb_"

CONSTRAINTS = (
    "CREATE CONSTRAINT apitoken_id IF NOT EXISTS FOR (t:ApiToken) REQUIRE t.id IS UNIQUE",
    "CREATE CONSTRAINT apitoken_hash IF NOT EXISTS FOR (t:ApiToken) REQUIRE t.hash IS UNIQUE",
)
#: What a token read returns (``token_from_map`` reads it); other modules' reads reuse it.
#: Times come back as ISO text, because the driver's DateTime conversion is paid on every
#: authenticated request and ``datetime.fromisoformat`` costs a fraction of it.
_TIMES = ("createdAt", "revokedAt", "lastUsedAt")
TOKEN_MAP = ("t {.id, .name, .scope, .actor, "
             + ", ".join(f"{name}: toString(t.{name})" for name in _TIMES) + "}")
ACTIVE_BY_NAME = ("MATCH (t:ApiToken {name: $name}) WHERE t.revokedAt IS NULL "
                  "RETURN count(t) AS n")
CREATE = """
CREATE (t:ApiToken {id: $id, name: $name, hash: $hash, scope: $scope, actor: $actor,
                    createdAt: $now})
"""
LIST = f"""
MATCH (t:ApiToken)
RETURN {TOKEN_MAP} AS token
ORDER BY t.createdAt, t.id
"""
BY_HASH = f"""
MATCH (t:ApiToken {{hash: $hash}})
RETURN {TOKEN_MAP} AS token
"""
BY_HASHES = f"""
UNWIND $hashes AS hash
MATCH (t:ApiToken {{hash: hash}})
RETURN hash, {TOKEN_MAP} AS token
"""
REVOKE = f"""
MATCH (t:ApiToken) WHERE t.id = $ref OR t.name = $ref
WITH t ORDER BY t.revokedAt IS NULL DESC LIMIT 1
SET t.revokedAt = coalesce(t.revokedAt, $now)
RETURN {TOKEN_MAP} AS token
"""
TOUCH = "MATCH (t:ApiToken {id: $id}) SET t.lastUsedAt = $now"


@dataclass(frozen=True)
class Token:
    id: str
    name: str
    scope: str
    actor: str
    created_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def scopes(self) -> frozenset[str]:
        return IMPLIED.get(self.scope, frozenset())


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_from_map(raw: dict) -> Token:
    """A ``Token`` from a ``TOKEN_MAP`` projection."""
    return Token(raw["id"], raw["name"], raw["scope"], raw["actor"],
                 read_stamp(raw["createdAt"]), read_stamp(raw["revokedAt"]),
                 read_stamp(raw["lastUsedAt"]))


def _create(tx: ManagedTransaction, row: dict) -> None:
    if tx.run(ACTIVE_BY_NAME, name=row["name"]).single(strict=True)["n"]:
        raise Conflict(f"an active token named {row['name']!r} exists; revoke it first "
                       "or choose another --name")
    tx.run(CREATE, **row).consume()


def create_token(graph: Graph, *, name: str, scope: str, actor: str) -> tuple[Token, str]:
    """A new token and its secret; only the hash is stored, so the secret is shown once."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("name", "must be a non-empty token name", name)
    if scope not in SCOPES:
        raise InvalidInput("scope", "must be read, write or admin", scope)
    actor = (actor or "").strip()
    if not actor:
        raise InvalidInput("actor", "must name the person the token acts as", actor)
    create_missing(graph, CONSTRAINTS)
    secret = PREFIX + secrets.token_urlsafe(32)
    row = {"id": f"tok_{uuid.uuid4().hex[:12]}", "name": name, "hash": hash_secret(secret),
           "scope": scope, "actor": actor, "now": datetime.now(UTC)}
    graph.write(_create, row)
    token = Token(row["id"], name, scope, actor, row["now"], None, None)
    return token, secret


def _list(tx: ManagedTransaction) -> list[Token]:
    return [token_from_map(r["token"]) for r in tx.run(LIST)]


def list_tokens(graph: Graph) -> list[Token]:
    return graph.read(_list)


def _by_hash(tx: ManagedTransaction, digest: str) -> Token | None:
    row = tx.run(BY_HASH, hash=digest).single()
    return None if row is None else token_from_map(row["token"])


def find_token(graph: Graph, secret: str) -> Token | None:
    """The token a secret belongs to, revoked or not; None when unknown."""
    return graph.read(_by_hash, hash_secret(secret))


def _by_hashes(tx: ManagedTransaction, digests: list[str]) -> dict[str, Token]:
    return {row["hash"]: token_from_map(row["token"]) for row in tx.run(BY_HASHES, hashes=digests)}


def find_tokens(graph: Graph, secrets: list[str]) -> dict[str, Token]:
    """``{secret: token}`` for the known ones: one read for many concurrent requests."""
    digests = {secret: hash_secret(secret) for secret in secrets}
    found = graph.read(_by_hashes, sorted(set(digests.values())))
    return {secret: found[d] for secret, d in digests.items() if d in found}


def _revoke(tx: ManagedTransaction, ref: str, now: datetime) -> Token | None:
    row = tx.run(REVOKE, ref=ref, now=now).single()
    return None if row is None else token_from_map(row["token"])


def revoke_token(graph: Graph, name_or_id: str) -> Token:
    token = graph.write(_revoke, name_or_id, datetime.now(UTC))
    if token is None:
        raise NotFound("token", name_or_id)
    return token


def _touch(tx: ManagedTransaction, token_id: str, now: datetime) -> None:
    tx.run(TOUCH, id=token_id, now=now).consume()


def touch_token(graph: Graph, token_id: str) -> None:
    graph.write(_touch, token_id, datetime.now(UTC))
