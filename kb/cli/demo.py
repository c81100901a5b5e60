"""``kb demo``: load a year of a fictional ML team's history, to explore kb with."""

from __future__ import annotations

import typer

from .app import JSON_OPTION, app, console, emit, open_graph, table


@app.command("demo")
def demo(
    seed: int = typer.Option(7, "--seed", help="Seed of the generated history; the same "
                             "seed always gives the same graph."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Load a deterministic demo history (3 teams, 500 runs, 15 models) into the graph.

    Safe to run again: every record has a fixed id, so a second load changes nothing.
    """
    from kb.ingest.demo import load_demo

    graph = open_graph()
    try:
        if as_json:
            summary = load_demo(graph, seed=seed)
        else:
            with console.status("loading the demo history") as status:
                summary = load_demo(graph, seed=seed,
                                    progress=lambda name: status.update(f"writing {name}"))
    finally:
        graph.close()

    def render(data: dict[str, int]) -> None:
        nodes = [(k, v) for k, v in data.items() if not k.isupper()]
        rels = [(k, v) for k, v in data.items() if k.isupper()]
        table("Nodes", ["label", "count"], nodes)
        table("Relationships", ["type", "count"], rels)
        console.print(f"Demo history loaded (seed {seed}); loading it again changes "
                      "nothing.", highlight=False)

    emit({"seed": seed, "counts": summary}, as_json,
         lambda data: render(data["counts"]))
