"""``ponder graph``: counts, top entities and communities; ``show`` an entity; ``export`` the graph."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from ponder.cli.app import _open, app
from ponder.cli.render import (
    _one_line,
    _relative,
    out,
)

graph_app = typer.Typer(help="The entity graph: counts, top entities, communities; show an entity; export.")


app.add_typer(graph_app, name="graph")


@graph_app.callback(invoke_without_command=True)
def graph_summary(ctx: typer.Context, top: int = typer.Option(15, "--top", help="Entities and communities to list.")
                  ) -> None:
    """Counts, the entities named in most chunks and the largest communities."""
    if ctx.invoked_subcommand:
        return
    from ponder.graph import views

    with _open(ctx) as ponder:
        found = views.summary(ponder.graph, ponder.communities(), ponder.store, top)
    out.print(f"{found['entities']} entities in {found['chunks']} chunks, {found['relations']} relations; "
              + ", ".join(f"{k}: {v}" for k, v in found["stored"].items()))
    out.print("\n[bold]Entities named in most chunks[/]")
    for row in found["top_entities"]:
        out.print(f"  {escape(row['name'])} ({row['type']}): {row['chunks']} chunks, {row['related']} related")
    out.print(f"\n[bold]{found['communities']} communities[/] (largest first)")
    for row in found["top_communities"]:
        out.print(f"  {row['id'][:8]} · {row['entities']} entities, {row['chunks']} chunks: "
                  f"{escape(_one_line(row['summary'], 160))}")


@graph_app.command("show")
def graph_show(ctx: typer.Context, entity: str = typer.Argument(..., help="An entity's name (any case or width)."),
               limit: int = typer.Option(20, "--limit", help="Neighbours to list.")) -> None:
    """An entity's neighbours, with edge weights and the chunks stating each relation."""
    from ponder.graph import views

    with _open(ctx) as ponder:
        position, near = views.find(ponder.graph, entity)
        if position is None:
            hint = f"; did you mean: {', '.join(near)}" if near else ""
            raise typer.BadParameter(f"no entity {entity!r} in the graph{hint}", param_hint="ENTITY")
        found = views.entity(ponder.graph, ponder.store, position, limit)
        paths = {c.id: _relative(c.path) for c in ponder.store.get_chunks(
            found["chunk_ids"] + [i for n in found["neighbours"] for i in n["chunk_ids"]])}
    out.print(f"[bold]{escape(found['name'])}[/] ({found['type']}), named in {found['chunks']} chunks")
    if found["description"]:
        out.print(f"  {escape(found['description'])}")
    for path in dict.fromkeys(paths[i] for i in found["chunk_ids"][:5]):
        out.print(f"  · {escape(path)}")
    out.print("[bold]Neighbours[/] (weight: sentences naming both)")
    for row in found["neighbours"]:
        sources = sorted({paths[i] for i in row["chunk_ids"] if i in paths})
        more = f" +{len(sources) - 3}" if len(sources) > 3 else ""
        where = escape(", ".join(sources[:3])) + more
        out.print(f"  {escape(row['name'])} ({row['type']})  {row['weight']:g}  ← {where}")


@graph_app.command("export")
def graph_export(ctx: typer.Context, path: Path = typer.Argument(..., help="FILE.graphml (Gephi, Neo4j) or "
                                                                           "FILE.json (node-link).")) -> None:
    """Write the entity graph with its communities and every edge's source chunks."""
    from ponder.graph.export import write_graph

    with _open(ctx) as ponder:
        counts = write_graph(ponder.graph, ponder.communities(), ponder.store, path)
    out.print(f"wrote {path}: {counts['nodes']} entities, {counts['edges']} relations")
