"""Commands that change or list the index: ``ingest``, ``migrate``, ``remove``, ``reindex``, ``docs``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from ponder.cli.app import _config, _open, app
from ponder.cli.render import (
    _ingest_listener,
    _relative,
    err,
    out,
)
from ponder.types import pages_named


@app.command()
def ingest(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Files or folders (searched recursively)."),
    prune: bool = typer.Option(False, "--prune", help="Also remove indexed documents under PATHS whose files "
                               "are gone."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    shard: Optional[str] = typer.Option(None, "--shard", metavar="I/N", help="Ingest only part I of N of the "
                                        "files (N machines sharing one Milvus store, each with its own I)."),
) -> None:
    """Add files to the index; unchanged files are not processed again."""
    part = _shard(shard) if shard else None
    with _open(ctx) as ponder, _ingest_listener(quiet=as_json) as listener:
        report = ponder.ingest(paths, listener=listener, prune=prune, shard=part)
    if as_json:
        out.print_json(data=report.to_dict())
    else:
        for warning in report.warnings:
            err.print(f"[yellow]warning:[/] {escape(warning)}")
        for path in report.removed:
            out.print(f"  removed {escape(_relative(path))}")
        out.print(report.summary())
    if report.count("failed"):
        raise typer.Exit(1)


def _shard(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
        raise typer.BadParameter(f"{text!r} is not I/N with 1 <= I <= N (e.g. 2/3)", param_hint="--shard")
    return int(index), int(count)


@app.command()
def migrate(
    ctx: typer.Context,
    to: str = typer.Option(..., "--to", help="The backend to copy the index into: milvus."),
    uri: Optional[str] = typer.Option(None, "--uri", help="Milvus URI (default: store.milvus_uri, else Milvus "
                                      "Lite in the data dir)."),
    prefix: Optional[str] = typer.Option(None, "--prefix", help="Collection prefix (default: "
                                         "store.collection_prefix)."),
) -> None:
    """Copy the local index (documents, chunks, vectors, graph) into Milvus, without re-embedding, and
    check the counts. Then set store.backend = "milvus" (and the same URI and prefix) to use it."""
    from ponder.index import ChunkStore
    from ponder.index.migrate import migrate as copy_index
    from ponder.index.milvus_store import MilvusStore
    from ponder.index.milvus_tables import connect_configured

    if to != "milvus":
        raise typer.BadParameter(f"unknown backend {to!r}; the one to migrate to is: milvus", param_hint="--to")
    config = _config(ctx, {})
    if not (config.data_path / "ponder.db").is_file():
        err.print(f"[red]error:[/] no local index in {config.data_path} (ponder.db) to migrate")
        raise typer.Exit(1)
    settings = config.store.model_copy(update={k: v for k, v in (("milvus_uri", uri), ("collection_prefix", prefix))
                                               if v is not None})
    source = ChunkStore(config.data_path / "ponder.db")
    client, where = connect_configured(settings, config.data_path)
    try:
        target = MilvusStore(client, settings.collection_prefix, lambda: source.vector_dim, where=where)
        report = copy_index(source, target, on_document=lambda doc: err.print(f"  copied {_relative(doc.path)}"))
    finally:
        client.close()
        source.close()
    for what, (before, after) in report.counts.items():
        out.print(f"  {what}: {before} local, {after} in Milvus{'' if before == after else '  [red]MISMATCH[/]'}")
    out.print(f"{report.copied} documents copied, {report.unchanged} already there, into {where} "
              f"(prefix {settings.collection_prefix})")
    if not report.verified:
        raise typer.Exit(1)
    out.print(f'use it with: store.backend = "milvus", store.milvus_uri = "{where}", '
              f'store.collection_prefix = "{settings.collection_prefix}"')


@app.command()
def remove(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Files, or folders: every document under them."),
) -> None:
    """Remove documents from the index (the files themselves are not touched)."""
    with _open(ctx) as ponder:
        removed = ponder.remove(paths)
    for path in removed:
        out.print(f"  removed {escape(_relative(path))}")
    out.print(f"{len(removed)} documents removed")
    if not removed:
        raise typer.Exit(1)


@app.command()
def reindex(ctx: typer.Context) -> None:
    """Embed every chunk with the configured embedder (after changing it, or to fill gaps)."""
    with _open(ctx) as ponder:
        before = ponder.store.embedder
        done = ponder.reindex(on_batch=lambda done, total: err.print(f"  embedded {done}/{total}"))
        after = ponder.store.embedder
    change = f"{before} -> {after}" if before != after else after
    out.print(f"embedded {done} chunks ({change})")


@app.command()
def docs(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """List the indexed documents with their chunk counts."""
    with _open(ctx) as ponder:
        documents = ponder.documents()
    if as_json:
        out.print_json(data=[vars(d) for d in documents])
        return
    for document in documents:
        pages = f", {pages_named(document.page_count, document.path)}" if document.page_count else ""
        when = datetime.fromtimestamp(document.ingested_at).strftime("%Y-%m-%d %H:%M")
        out.print(f"{escape(_relative(document.path))}: {document.chunk_count} chunks{pages} "
                  f"({document.file_type}, ingested {when})")
    out.print(f"{len(documents)} documents")
