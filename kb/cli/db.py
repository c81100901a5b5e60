"""kb up / kb down / kb status: the local Neo4j server."""

from __future__ import annotations

from typing import Any

from .app import JSON_OPTION, app, console, emit, err_console, get_config, table

_FIELDS = (
    "running", "kind", "pid", "uri", "user", "database", "version", "heap", "pagecache",
    "uptime_s", "home", "data_dir", "password_file", "log", "external_uri",
)


def _render_status(info: dict[str, Any]) -> None:
    table("Local Neo4j", ["field", "value"], [(k, info.get(k)) for k in _FIELDS])


@app.command("up")
def up(as_json: bool = JSON_OPTION) -> None:
    """Start the local Neo4j (fetching it with Maven the first time); no-op if it runs."""
    from kb.localdb import start, status

    config = get_config()
    if config.neo4j_uri:
        info = {"running": None, "managed": False, "uri": config.neo4j_uri}
        emit(info, as_json, lambda i: console.print(
            f"KB_NEO4J_URI is set: kb uses {i['uri']} and starts no local server."))
        return
    with err_console.status("Starting the local Neo4j (the first start fetches it)..."):
        start(config)
    info = status(config) | {"managed": True}

    def render(i: dict[str, Any]) -> None:
        console.print(f"Neo4j {i['version']} is up at {i['uri']} (pid {i['pid']}).")
        console.print(f"User {i['user']}, password in {i['password_file']}; `kb down` stops it.")

    emit(info, as_json, render)


@app.command("down")
def down(as_json: bool = JSON_OPTION) -> None:
    """Stop the local Neo4j cleanly; its data stays for the next `kb up`."""
    from kb.localdb import stop

    config = get_config()
    stopped = stop(config)
    emit({"stopped": stopped, "home": str(config.home)}, as_json, lambda i: console.print(
        "Stopped the local Neo4j." if i["stopped"] else "No local Neo4j was running."))


@app.command("status")
def status_(as_json: bool = JSON_OPTION) -> None:
    """Show whether the local Neo4j runs, where, and with how much memory."""
    from kb.localdb import status

    emit(status(get_config()), as_json, _render_status)
