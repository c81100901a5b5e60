"""kb serve: the GraphQL API under uvicorn."""

from __future__ import annotations

import os

import typer

from .app import app, console, err_console, get_config


def default_workers() -> int:
    """Two workers where there are two cores: one process cannot use the second core for
    Python work, and on a 2-core machine that also runs Neo4j more workers only contend."""
    return 2 if (os.cpu_count() or 1) >= 2 else 1


@app.command("serve")
def serve(
    host: str = typer.Option(None, "--host", help="Address to bind (default KB_API_HOST, "
                             "127.0.0.1)."),
    port: int = typer.Option(None, "--port", help="Port (default KB_API_PORT, 8000)."),
    workers: int = typer.Option(None, "--workers", min=1, help="Worker processes (default "
                                "2 on a machine with 2 or more cores, else 1)."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the GraphQL API at /graphql (GraphiQL in a browser), /healthz and /readyz."""
    import uvicorn

    from kb.api.auth import anonymous_reads_allowed
    from kb.localdb import resolve

    config = get_config()
    workers = workers or default_workers()
    host = host or config.api_host
    port = port or config.api_port
    # Workers read their configuration from the environment: pass the choices on.
    os.environ["KB_API_HOST"] = host
    os.environ["KB_API_PORT"] = str(port)
    # Workers stop when this process dies, however it dies (kb.api.parent_watch).
    from kb.api.parent_watch import SUPERVISOR_ENV

    os.environ[SUPERVISOR_ENV] = str(os.getpid())
    with err_console.status("Connecting to Neo4j (starting the local one if needed)..."):
        conn = resolve(get_config(), start=True)
    shown = f"[{host}]" if ":" in host else host
    console.print(f"kb API on http://{shown}:{port}/graphql "
                  f"(Neo4j {conn.uri}); health at /healthz, readiness at /readyz")
    anon = anonymous_reads_allowed(get_config())
    console.print("Reads: " + ("open without a token" if anon else "need a token")
                  + "; writes need a token with the write scope (`kb token create`).")
    uvicorn.run("kb.api.app:create_app_from_env", factory=True, host=host, port=port,
                workers=workers, log_level=log_level, proxy_headers=False,
                timeout_worker_healthcheck=30)  # a loaded host imports slowly
