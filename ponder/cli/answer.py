"""``ponder search`` and ``ponder ask``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional, cast

import typer
from rich.markup import escape

from ponder.cli.app import AFTER, BEFORE, GLOB, KIND, _open, _where, app
from ponder.cli.render import (
    PlainLines,
    _hit_dict,
    _relative,
    figure_line,
    highlight,
    out,
    print_answer,
    print_trace,
    snippet,
)
from ponder.reason import MODE_NAMES
from ponder.types import location


@app.command()
def search(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="What to look for."),
    top_k: int = typer.Option(10, "--top-k", "-k", min=1, help="How many hits."),
    glob: Optional[str] = GLOB,
    after: Optional[str] = AFTER,
    before: Optional[str] = BEFORE,
    kind: Optional[str] = KIND,
    as_json: bool = typer.Option(False, "--json", help="Print hits as JSON."),
) -> None:
    """Show the passages that best match QUERY: rank, score, each retriever's rank, source, snippet
    (for a figure: which, where on its page, and its stored image)."""
    where = _where(glob, after, before, kind)
    with _open(ctx) as ponder:
        hits = ponder.search(query, top_k, where)
        figures_dir = ponder.data_dir / "figures"
    if as_json:
        out.print_json(data=[_hit_dict(hit) for hit in hits])
        return
    if not hits:
        out.print("no matching passages")
    for hit in hits:
        place = location(_relative(hit.chunk.path), hit.chunk.page, hit.chunk.heading_path, hit.chunk.page_end,
                         hit.chunk.figure)
        ranks = " ".join(f"{name} #{rank}" for name, rank in sorted(hit.ranks.items()))
        out.print(f"[bold]{hit.rank:>2}.[/] {hit.score:.4f}  [dim]{ranks}[/]  [cyan]{escape(place)}[/]")
        if hit.chunk.figure is not None:
            out.print(f"     [magenta]{escape(figure_line(hit.chunk.figure, figures_dir))}[/]")
        out.print(f"     {highlight(snippet(hit.chunk.text, query), query)}")


@app.command()
def ask(
    ctx: typer.Context,
    question: str = typer.Argument(..., help="The question, in any language."),
    docs: Optional[list[Path]] = typer.Option(None, "--docs", help="Answer only from these files or folders "
                                              "(ingested first if needed). Repeatable."),
    glob: Optional[str] = GLOB,
    after: Optional[str] = AFTER,
    before: Optional[str] = BEFORE,
    kind: Optional[str] = KIND,
    mode: Optional[str] = typer.Option(None, "--mode", "-m", help=f"One of: {', '.join(MODE_NAMES)} "
                                       "(default: reason.mode, itself 'direct' unless configured)."),
    scope: str = typer.Option("local", "--scope", help="local: from the passages that match; global: a question "
                              "about the whole corpus, from the entity graph's community reports."),
    show_thinking: bool = typer.Option(True, "--thinking/--no-thinking", help="Print the model's thinking."),
    show_trace: bool = typer.Option(False, "--trace", help="Print every step, retrieval and model call as a tree."),
    as_json: bool = typer.Option(False, "--json", help="Print the Answer as JSON."),
) -> None:
    """Answer QUESTION from the indexed documents, with citations and per-stage timings."""
    where = _where(glob, after, before, kind)
    if mode is not None and mode not in MODE_NAMES:
        raise typer.BadParameter(f"{mode!r} is not a mode; valid modes: {', '.join(MODE_NAMES)}", param_hint="--mode")
    if scope not in ("local", "global"):
        raise typer.BadParameter(f"{scope!r} is not a scope; use local or global", param_hint="--scope")
    with _open(ctx) as ponder:
        answer = ponder.ask(question, docs=docs, where=where, mode=mode, listener=PlainLines(show_ingested=False),
                            scope=cast(Literal["local", "global"], scope))  # checked above
        figures_dir = ponder.data_dir / "figures"
    if as_json:
        out.print_json(data=answer.to_dict())
        return
    if show_trace:
        print_trace(answer.trace)
    print_answer(answer, show_thinking, figures_dir)
