"""kb token create / list / revoke: API tokens, stored hashed, the secret shown once."""

from __future__ import annotations

from typing import Any

import typer

from .app import JSON_OPTION, app, console, emit, open_graph, table

token_app = typer.Typer(help="API tokens for the GraphQL server.", no_args_is_help=True)
app.add_typer(token_app, name="token")


def _row(token: Any) -> dict[str, Any]:
    return {"id": token.id, "name": token.name, "scope": token.scope, "actor": token.actor,
            "created_at": token.created_at, "revoked_at": token.revoked_at,
            "last_used_at": token.last_used_at, "active": token.active}


@token_app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="A name to find the token by."),
    scope: str = typer.Option(..., "--scope", help="read, write or admin."),
    actor: str = typer.Option(None, "--actor", help="The person the token acts as, whose "
                              "name every write made with it carries (default: you, as "
                              "kb.run finds you: KB_USER, else git's user.name, else the "
                              "login name)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a token; its secret is printed once and only its hash is kept."""
    from kb.config import Config
    from kb.graph.tokens import create_token
    from kb.ingest.capture import current_person

    config = Config.from_env()
    actor = actor or current_person(config.actor)
    with open_graph(config) as graph:
        token, secret = create_token(graph, name=name, scope=scope, actor=actor)
    data = _row(token) | {"secret": secret}

    def render(d: dict[str, Any]) -> None:
        console.print(f"Token {d['name']} ({d['id']}, scope {d['scope']}, "
                      f"acting as {d['actor']}):")
        console.print(d["secret"], highlight=False, soft_wrap=True)
        console.print("Shown once: store it now. Send it as `Authorization: Bearer <token>`.")

    emit(data, as_json, render)


@token_app.command("list")
def list_(as_json: bool = JSON_OPTION) -> None:
    """Every token, active or revoked (never the secrets)."""
    from kb.graph.tokens import list_tokens

    with open_graph() as graph:
        rows = [_row(t) for t in list_tokens(graph)]
    emit(rows, as_json, lambda rs: table(
        "API tokens", ["id", "name", "scope", "actor", "created", "revoked", "last used"],
        [(r["id"], r["name"], r["scope"], r["actor"], r["created_at"], r["revoked_at"],
          r["last_used_at"]) for r in rs]))


@token_app.command("revoke")
def revoke(name_or_id: str = typer.Argument(..., help="The token's name or id."),
           as_json: bool = JSON_OPTION) -> None:
    """Revoke a token at once; requests with it get 401 from then on."""
    from kb.graph.tokens import revoke_token

    with open_graph() as graph:
        token = revoke_token(graph, name_or_id)
    emit(_row(token), as_json, lambda d: console.print(
        f"Revoked token {d['name']} ({d['id']})."))
