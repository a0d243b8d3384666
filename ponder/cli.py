"""The ``ponder`` command line: ingest, search, ask, docs, eval, serve, keys, mcp, demo.

Every command takes ``--config PATH`` and ``--data-dir PATH`` before the command name
(``ponder --data-dir ./idx ask "..."``) and ``--json`` where its output is data.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.tree import Tree

from ponder.api import NothingToSearch, Ponder
from ponder.config import Config, ConfigError, load_config
from ponder.distill import FORMATS as DISTILL_FORMATS
from ponder.distill import KINDS as DISTILL_KINDS
from ponder.index import StoreError
from ponder.ingest.figures import stored_image
from ponder.llm import LLMError, LocalServerError
from ponder.reason import MODE_NAMES
from ponder.retrieve import Filter, parse_date
from ponder.types import Answer, Figure, FileOutcome, Hit, Trace, TraceStep, location, pages_named

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Ponder: retrieval-augmented generation with reasoning models.")
# soft_wrap: never break lines at 80 columns when output goes to a file or a pipe.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DEMO_QUESTIONS = ("How long is the oolong roasted?", "青溪村图书馆每周哪天闭馆？")


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Optional[Path] = typer.Option(None, "--config", help="A ponder.toml file.", dir_okay=False),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Where the index lives."),
) -> None:
    ctx.obj = {"config": config, "data_dir": data_dir}


def _open(ctx: typer.Context, data_dir: Path | None = None) -> Ponder:
    if data_dir:
        return Ponder(load_config(ctx.obj["config"], overrides={"data_dir": str(data_dir)}))
    return Ponder(_config(ctx, {}))


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
    from ponder.index.milvus_store import MilvusStore, connect_configured

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


GLOB = typer.Option(None, "--glob", help="Only documents whose path matches, e.g. '*.pdf'.")
AFTER = typer.Option(None, "--after", help="Only documents modified on or after this date (YYYY-MM-DD).")
BEFORE = typer.Option(None, "--before", help="Only documents modified before this date (YYYY-MM-DD).")
KIND = typer.Option(None, "--type", help="Only 'figure' passages (pictures: caption, text inside, description) "
                    "or only 'text'.")


def _where(glob: str | None, after: str | None, before: str | None, kind: str | None = None) -> Filter | None:
    if kind not in (None, "figure", "text"):
        raise typer.BadParameter(f"{kind!r} is not a passage type; use figure or text", param_hint="--type")
    dates = {}
    for flag, text in (("--after", after), ("--before", before)):
        try:
            dates[flag] = parse_date(text) if text else None
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint=flag) from None
    where = Filter(path_glob=glob, modified_after=dates["--after"], modified_before=dates["--before"], kind=kind)
    return where if where != Filter() else None


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
        where = location(_relative(hit.chunk.path), hit.chunk.page, hit.chunk.heading_path, hit.chunk.page_end,
                         hit.chunk.figure)
        ranks = " ".join(f"{name} #{rank}" for name, rank in sorted(hit.ranks.items()))
        out.print(f"[bold]{hit.rank:>2}.[/] {hit.score:.4f}  [dim]{ranks}[/]  [cyan]{escape(where)}[/]")
        if hit.chunk.figure is not None:
            out.print(f"     [magenta]{escape(figure_line(hit.chunk.figure, figures_dir))}[/]")
        out.print(f"     {highlight(snippet(hit.chunk.text, query), query)}")


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
                            scope=scope)
        figures_dir = ponder.data_dir / "figures"
    if as_json:
        out.print_json(data=answer.to_dict())
        return
    if show_trace:
        print_trace(answer.trace)
    print_answer(answer, show_thinking, figures_dir)


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


@app.command("eval")
def evaluate(
    ctx: typer.Context,
    dataset: Optional[str] = typer.Argument(None, help="rgb:NAME_OR_FILE, hotpotqa:NAME_OR_FILE, "
                                            "tatqa:NAME_OR_FILE, jsonl:FILE or beir:FOLDER."),
    out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="Report folder; run again to resume."),
    compare: Optional[tuple[Path, Path]] = typer.Option(None, "--compare", help="Compare two report folders "
                                                        "(BEFORE AFTER) instead of running."),
    modes: Optional[list[str]] = typer.Option(None, "--mode", "-m", help="Repeatable (default: every mode but "
                                              "global)."),
    budgets: Optional[list[int]] = typer.Option(None, "--budget", help="Also run agentic with this step limit. "
                                                "Repeatable: the accuracy-versus-cost curve."),
    configs: Optional[list[Path]] = typer.Option(None, "--config-variant", help="Run every mode under this config "
                                                 "file too (say, another reasoner). Repeatable."),
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="Documents to ingest for a jsonl dataset."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N questions."),
    concurrency: int = typer.Option(1, "--concurrency", min=1, max=64, help="Questions in flight at once."),
    judge: bool = typer.Option(False, "--judge", help="Also have the [judge] model (default: chat) grade each "
                               "answer; reported apart, as 'judge acc. (LLM)'."),
) -> None:
    """Answer a dataset in several modes and write the comparison: results.jsonl and report.md."""
    from ponder.evaluate import load_dataset
    from ponder.evaluate.evaluation import EvalSettings
    from ponder.evaluate.evaluation import evaluate as run_evaluation

    if compare:
        from ponder.evaluate.compare import compare_runs
        from ponder.evaluate.runner import read_results

        before, after = (read_results(folder) for folder in compare)
        if not before or not after:
            raise typer.BadParameter("both folders need a results.jsonl from `ponder eval`", param_hint="--compare")
        out.print(compare_runs(before, after), markup=False)
        return
    if dataset is None or out_dir is None:
        raise typer.BadParameter("give a DATASET and --out DIR (or --compare BEFORE AFTER)")
    try:
        settings = EvalSettings(tuple(modes or ()), tuple(budgets or ()), tuple(configs or ()), corpus,
                                concurrency, judge)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--mode") from None
    data = load_dataset(dataset, shared=_shared_dir(), limit=limit)
    # One live display at a time: the ingest bar (if the dataset brings a corpus) ends before the
    # question bar starts.
    ingesting = contextlib.ExitStack()
    listener = ingesting.enter_context(_ingest_listener(quiet=False))
    progress = Progress(TextColumn("asking"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=err, disable=not err.is_terminal)
    task = progress.add_task("eval", total=None)

    def ingested(report: Any) -> None:
        ingesting.close()
        out.print(report.summary())

    def landed(row: dict[str, Any]) -> None:
        if not progress.live.is_started:
            ingesting.close()
            progress.start()
        progress.advance(task)
        if not err.is_terminal:
            status = f"error: {row['error']}" if row["error"] else (
                "right" if row["scores"]["correct"] else "wrong" if row["scores"]["correct"] is False else "done")
            err.print(f"{row['system']} {row['question_id']}: {escape(status)}")

    try:
        outcome = run_evaluation(data, out_dir, settings, config_path=ctx.obj["config"], data_dir=ctx.obj["data_dir"],
                                 ingest_listener=listener, on_ingested=ingested,
                                 on_planned=lambda pending: progress.update(task, total=pending), on_result=landed)
    finally:
        ingesting.close()
        progress.stop()
    results = escape(str(out_dir / "results.jsonl"))
    out.print(f"{outcome.asked} asked ({outcome.failures} failed), {len(outcome.rows)} results in {results}")
    out.print(f"report: {escape(str(outcome.markdown))} and {escape(str(outcome.page))}")


@app.command()
def distill(
    ctx: typer.Context,
    out_dir: Path = typer.Argument(..., help="Where records.jsonl, the train/validation files and card.md go; "
                                   "run again to resume."),
    kinds: str = typer.Option(",".join(DISTILL_KINDS), "--kinds", help="Question kinds, comma-separated."),
    per_doc: int = typer.Option(2, "--per-doc", min=1, help="Chunks sampled per document."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="At most N questions in all."),
    mode: str = typer.Option("reasoner", "--mode", help="The teacher's mode (multi-hop questions: --multi-hop-mode)."),
    multi_hop_mode: str = typer.Option("agentic", "--multi-hop-mode"),
    formats: Optional[list[str]] = typer.Option(None, "--format", help="plain, openai or sharegpt; repeatable "
                                                "(default: all three). plain is what `ponder eval jsonl:` reads."),
    validation: float = typer.Option(0.1, "--validation", min=0.0, max=0.9, help="Share of documents held out."),
    concurrency: int = typer.Option(1, "--concurrency", min=1, max=64, help="Questions in flight at once."),
    judge: bool = typer.Option(False, "--judge", help="The chat model also judges each answer."),
    require_thinking: Optional[bool] = typer.Option(None, "--require-thinking/--no-require-thinking",
                                                    help="Drop records without thinking (default: when the "
                                                    "teacher is a configured model in a thinking mode)."),
    seed: int = typer.Option(0, "--seed"),
    yes: bool = typer.Option(False, "--yes", "-y", help="Start without asking about the cost."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print three records; write nothing."),
) -> None:
    """Grounded question / thinking / answer records from your own corpus: fine-tuning data, and a
    validation split that `ponder eval jsonl:OUT/validation.plain.jsonl` runs on."""
    from ponder.distill import Distiller, DistillOptions

    for name, value in (("--mode", mode), ("--multi-hop-mode", multi_hop_mode)):
        if value not in MODE_NAMES:
            raise typer.BadParameter(f"{value!r} is not a mode; valid modes: {', '.join(MODE_NAMES)}", param_hint=name)
    try:
        options = DistillOptions(kinds=tuple(k.strip() for k in kinds.split(",") if k.strip()), per_doc=per_doc,
                                 limit=limit, mode=mode, multi_hop_mode=multi_hop_mode,
                                 formats=tuple(formats or DISTILL_FORMATS), validation=validation,
                                 concurrency=concurrency, judge=judge, require_thinking=require_thinking, seed=seed)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    with _open(ctx) as ponder:
        distiller = Distiller(ponder, options)
        try:
            sources = distiller.sources()
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--kinds") from None
        if not sources:
            raise NothingToSearch(f"no chunk in {ponder.data_dir} is long enough to ask about; "
                                  "ingest documents first")
        estimate = distiller.estimate(sources[:3] if dry_run else sources)
        cost = (f"about ${estimate.cost:.2f}" if estimate.cost is not None
                else "cost unknown (no \\[prices] for the models)")
        out.print(f"{estimate.sources} questions to write and answer: ~{estimate.prompt_tokens:,} prompt + "
                  f"~{estimate.completion_tokens:,} completion tokens, {cost}")
        if estimate.cost and not (yes or dry_run) and not typer.confirm("Go on?", err=True):
            raise typer.Exit(1)
        if dry_run:
            result = distiller.run(out_dir, dry_run=3, sources=sources)
            for record in result.records:
                out.print_json(data={k: v for k, v in record.items() if k not in ("source_texts",)})
            for reason, count in result.dropped_questions.items():
                out.print(f"[dim]no question: {escape(reason)} ({count})[/]")
            return
        counts = {"kept": 0, "dropped": 0, "tokens": 0}
        with Progress(TextColumn("distill"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
                      TimeRemainingColumn(), console=err, disable=not err.is_terminal) as progress:
            task = progress.add_task("distill", total=len(sources), status="")
            progress.update(task, completed=len(sources) - len(distiller.pending(out_dir, sources)))

            def landed(line: dict[str, Any]) -> None:
                counts["kept" if line["kept"] else "dropped"] += 1
                usage = line.get("usage") or {}
                counts["tokens"] += usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
                progress.update(task, advance=1, status=f"{counts['kept']} kept, {counts['dropped']} dropped, "
                                                        f"{counts['tokens']:,} tokens")
                if not err.is_terminal:
                    verdict = "kept" if line["kept"] else "dropped: " + "; ".join(line["reasons"])
                    err.print(f"{line['kind']} {line['id']}: {escape(verdict)}")

            result = distiller.run(out_dir, on_record=landed, sources=sources)
    splits = list(result.splits.values())
    out.print(f"{result.kept} kept ({splits.count('train')} train, {splits.count('validation')} validation) of "
              f"{len(result.records)} answered; {sum(result.dropped_questions.values())} sources gave no question")
    out.print(f"card: {escape(str(out_dir / 'card.md'))}; evaluate on the held-out documents with "
              f"`ponder eval jsonl:{escape(str(out_dir / 'validation.plain.jsonl'))} -o OUT`")


def _shared_dir() -> Path:
    return Path(os.environ.get("PONDER_SHARED", "../shared"))


@app.command()
def log(
    ctx: typer.Context,
    count: int = typer.Option(10, "--count", "-n", min=1, help="How many calls, newest first."),
    errors: bool = typer.Option(False, "--errors", help="Only calls that failed."),
    full: bool = typer.Option(False, "--full", help="Print each call's prompt, thinking and answer in full."),
    as_json: bool = typer.Option(False, "--json", help="Print the calls as JSON."),
) -> None:
    """Show recent model calls: time, role, model, purpose, tokens, latency, error."""
    with _open(ctx) as ponder:
        calls = ponder.call_log.recent(count, errors_only=errors) if ponder.call_log else []
    if as_json:
        out.print_json(data=[vars(call) for call in calls])
        return
    if not calls:
        out.print("no model calls logged")
    for call in calls:
        when = datetime.fromtimestamp(call.time).strftime("%Y-%m-%d %H:%M:%S")
        estimated = "~" if call.tokens_estimated else ""
        tokens = (f"{estimated}{call.prompt_tokens} in / {estimated}{call.completion_tokens} out"
                  f" ({call.reasoning_tokens} thinking)" if call.prompt_tokens is not None else "no tokens")
        status = f"[red]error: {escape(call.error)}[/]" if call.error else escape(_one_line(call.answer, 80))
        out.print(f"[dim]#{call.id} {when}[/] [bold]{call.role}[/] {escape(call.model)} [cyan]{call.purpose}[/]"
                  f"{' (streamed)' if call.streamed else ''}  {call.seconds:.2f} s, {tokens}")
        out.print(f"    {status}")
        if full:
            prompt = call.prompt if isinstance(call.prompt, str) else "\n".join(
                f"[{m.get('role')}] {m.get('content')}" for m in call.prompt)
            for title, text in (("prompt", prompt), ("thinking", call.thinking), ("answer", call.answer)):
                if text:
                    out.print(f"    [bold]{title}[/]\n{escape(text)}")


def _one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


CLIENTS_HELP = """
Point an OpenAI-compatible client at it: base URL http://HOST:PORT/v1, API key from
`ponder keys create`, model `ponder` (or `ponder:COLLECTION:MODE`, see GET /v1/models).
Thinking arrives as `reasoning_content`, as from DeepSeek's API.

  Open WebUI: Admin Settings > Connections > OpenAI API: URL http://HOST:PORT/v1 and the key.

  Chatbox: Settings > Model Provider > Add > OpenAI API Compatible: API host http://HOST:PORT,
  path /v1/chat/completions, the key, model ponder.

  Cherry Studio: Settings > Model Provider > Add (type OpenAI): API address http://HOST:PORT,
  the key; Manage models lists the collections and modes.

  The openai package: OpenAI(base_url="http://HOST:PORT/v1", api_key=KEY).
"""


@app.command(epilog=CLIENTS_HELP)
def serve(
    ctx: typer.Context,
    host: Optional[str] = typer.Option(None, "--host", help="Address to listen on (serve.host; default 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, "--port", help="Port (serve.port; default 8000)."),
    no_auth: bool = typer.Option(False, "--no-auth", help="Serve every collection without API keys "
                                 "(serve.require_keys = false); for a machine only you can reach."),
) -> None:
    """Serve the OpenAI-compatible chat API, collections with uploads, and the web page at /."""
    import uvicorn

    from ponder.serve.app import create_app

    config = _config(ctx, {"serve.require_keys": False} if no_auth else {})
    host, port = host or config.serve.host, port or config.serve.port
    _say_who_gets_in(ctx, config, host, "read and change every collection")
    err.print(f"web page: http://{host}:{port}/   OpenAI base URL: http://{host}:{port}/v1")
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning")


def _say_who_gets_in(ctx: typer.Context, config: Config, host: str, can: str) -> None:
    """Before a server starts: there are no keys yet, or (without keys) it is reachable off this machine."""
    if config.serve.require_keys:
        with _key_store(ctx) as store:
            live = any(key.revoked_at is None for key in store.list())
        if not live:
            err.print("every request needs an API key and there is none yet: "
                      "`ponder keys create NAME --write '*'` (or start with --no-auth)")
    elif host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"[yellow]warning:[/] no API keys required and listening on {escape(host)}: anyone who can "
                  f"reach it can {can}")


@app.command("mcp")
def mcp_server(
    ctx: typer.Context,
    http: bool = typer.Option(False, "--http", help="Streamable HTTP at http://HOST:PORT/mcp instead of stdio; "
                              "every request needs an API key (ponder keys create), as for ponder serve."),
    host: Optional[str] = typer.Option(None, "--host", help="With --http (serve.host)."),
    port: Optional[int] = typer.Option(None, "--port", help="With --http (serve.port)."),
    no_auth: bool = typer.Option(False, "--no-auth", help="With --http: no API keys (serve.require_keys = false); "
                                 "for a machine only you can reach."),
) -> None:
    """The MCP server: tools search, ask, list_collections, list_documents over the collections."""
    from ponder.serve.mcp import run_mcp

    config = _config(ctx, {"serve.require_keys": False} if no_auth else {})
    host, port = host or config.serve.host, port or config.serve.port
    if http:
        _say_who_gets_in(ctx, config, host, "read every collection")
    run_mcp(config, "streamable-http" if http else "stdio", host, port)


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


keys_app = typer.Typer(no_args_is_help=True, help="API keys for `ponder serve`, each scoped to collections.")
app.add_typer(keys_app, name="keys")


def _key_store(ctx: typer.Context) -> contextlib.closing:
    """The data dir's key store, closed when the ``with`` block ends (errors included)."""
    from ponder.serve.keys import open_keys

    return contextlib.closing(open_keys(_config(ctx, {})))


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Who or what the key is for."),
    read: Optional[list[str]] = typer.Option(None, "--read", help="A collection it may search and ask ('*': all). "
                                             "Repeatable."),
    write: Optional[list[str]] = typer.Option(None, "--write", help="A collection it may also upload to, delete "
                                              "from and create ('*': all). Repeatable."),
) -> None:
    """Create a key; its secret is printed once (only a hash is stored)."""
    with _key_store(ctx) as store:
        try:
            key, secret = store.create(name, read or [], write or [])
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--read/--write") from None
    err.print(f"key {key.id} ({escape(name)}): " + ", ".join(f"{c} {a}" for c, a in key.scopes.items()))
    out.print(secret)


@keys_app.command("list")
def keys_list(ctx: typer.Context) -> None:
    """Every key: id, name, scopes, created, revoked."""
    with _key_store(ctx) as store:
        keys = store.list()
    for key in keys:
        scopes = ", ".join(f"{c} {a}" for c, a in key.scopes.items())
        revoked = f"  revoked {datetime.fromtimestamp(key.revoked_at):%Y-%m-%d %H:%M}" if key.revoked_at else ""
        out.print(f"{key.id}  {key.name}  [{scopes}]  "
                  f"created {datetime.fromtimestamp(key.created_at):%Y-%m-%d %H:%M}{revoked}", markup=False)
    if not keys:
        out.print("no keys")


@keys_app.command("revoke")
def keys_revoke(ctx: typer.Context, key_id: str = typer.Argument(..., help="The key's id (ponder keys list).")) -> None:
    """Revoke a key: requests with it get 401 from then on."""
    with _key_store(ctx) as store:
        revoked = store.revoke(key_id)
    if not revoked:
        raise typer.BadParameter(f"no live key with id {key_id!r} (see `ponder keys list`)", param_hint="KEY_ID")
    out.print(f"revoked {key_id}")


def _config(ctx: typer.Context, overrides: dict[str, Any]):
    chosen = ctx.obj["data_dir"]
    return load_config(ctx.obj["config"], overrides={"data_dir": str(chosen) if chosen else None, **overrides})


@app.command()
def demo(
    ctx: typer.Context,
    question: Optional[list[str]] = typer.Option(None, "--question", "-q", help="Ask this instead of the samples."),
) -> None:
    """Ingest the bundled sample documents and answer sample questions with the embedded model."""
    samples = examples_dir()
    base = ctx.obj["data_dir"] or load_config(ctx.obj["config"]).data_path
    demo_dir = Path(base) / "demo"
    try:
        ponder = _open(ctx, data_dir=demo_dir)
    except StoreError as exc:  # written by another version: the folder is the demo's own, so rebuild it
        err.print(f"[dim]{escape(str(exc))}; rebuilding {escape(str(demo_dir))}[/]")
        shutil.rmtree(demo_dir)
        ponder = _open(ctx, data_dir=demo_dir)
    with ponder:
        out.print(f"[bold]Ingesting[/] {escape(str(samples))}")
        with _ingest_listener(quiet=False) as listener:
            report = ponder.ingest([samples], listener=listener)
        out.print(report.summary())
        for asked in question or DEMO_QUESTIONS:
            out.rule()
            out.print(f"[bold]Question:[/] {escape(asked)}")
            print_answer(ponder.ask(asked), show_thinking=True)
    if ponder.config.chat.is_embedded:
        out.print("\n[dim]The embedded model is a 270M-parameter base model: it proves the pipeline runs "
                  "offline, not that answers are good. Configure a real endpoint for real answers "
                  "(see README).[/]")


def examples_dir() -> Path:
    """The sample corpus: inside the installed package, or at the repository root in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "examples", here.parent / "examples"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the sample documents are missing from this installation")


def figure_line(figure: Figure, figures_dir: Path | None = None) -> str:
    """``Figure 2 (p.3), box 72,140-540,410 pt, image: …/figures/<hash>.png``."""
    parts = [figure.label()]
    if figure.bbox:
        parts.append("box " + ",".join(f"{v:g}" for v in figure.bbox[:2]) + "-" +
                     ",".join(f"{v:g}" for v in figure.bbox[2:]) + " pt")
    stored = stored_image(figures_dir, figure.image) if figures_dir is not None else None
    if stored is not None:
        parts.append(f"image: {stored}")
    elif not figure.image:
        parts.append("no image (not readable here)")
    return ", ".join(parts)


def print_answer(answer: Answer, show_thinking: bool, figures_dir: Path | None = None) -> None:
    if show_thinking:
        if answer.thinking:
            out.print("[bold]Thinking[/]")
            out.print(f"[dim]{escape(answer.thinking)}[/]")
        elif answer.model:
            out.print(f"[dim]Thinking: (none; {escape(answer.model)} did not think aloud)[/]")
        else:
            out.print("[dim]Thinking: (none; the answer is quoted from the passages, no model wrote it)[/]")
    out.print("[bold]Answer[/]")
    out.print(marked(answer) or "[dim](empty answer)[/]")
    print_grounding(answer)
    print_conflicts(answer)
    if answer.citations:
        out.print("[bold]Citations[/]")
        for citation in answer.citations:
            how = ("" if citation.source == "model"
                   else "  [dim](behind the community report the model cited)[/]" if citation.source == "community"
                   else "  [dim](the other side of a disagreement, cited by Ponder)[/]" if citation.source == "conflict"
                   else f"  [dim](not cited by the model; attributed by {citation.source})[/]")
            where = location(_relative(citation.path), citation.page, citation.heading_path, citation.page_end,
                             citation.figure)
            out.print(f"  [{citation.marker}] [cyan]{escape(where)}[/]{how}")
            if citation.figure is not None:
                out.print(f"      [magenta]{escape(figure_line(citation.figure, figures_dir))}[/]")
    else:
        out.print("[dim]No citations.[/]")
    if answer.route:
        out.print(f"[dim]Route: {escape(answer.route)}[/]")
    for fallback in answer.fallbacks:
        out.print(f"[yellow]fallback:[/] [dim]{escape(fallback)}[/]")
    if answer.invalid_citations:
        out.print(f"[dim]Removed citations to passages not given: {answer.invalid_citations}[/]")
    stages = " · ".join(f"{name} {seconds:.2f} s" for name, seconds in answer.timings.items())
    usage = answer.usage
    tokens = (f"{usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens"
              f" ({usage.reasoning_tokens} reasoning){' (estimated)' if usage.estimated else ''}")
    out.print(f"[dim]{answer.mode} · {stages} · {tokens} · {escape(answer.model)}[/]")


def marked(answer: Answer) -> str:
    """The answer text, escaped, with the spans no passage supports in red and underlined."""
    flags = answer.grounding.flags if answer.grounding else []
    parts, position = [], 0
    for flag in flags:
        if flag.start < position:
            continue
        parts += [escape(answer.text[position:flag.start]), f"[red underline]{escape(flag.text)}[/]"]
        position = flag.end
    return "".join(parts) + escape(answer.text[position:])


def print_grounding(answer: Answer) -> None:
    grounding = answer.grounding
    if grounding is None or grounding.verdict == "not checked":
        return
    colour = {"supported": "green", "partly supported": "yellow", "unsupported": "red"}[grounding.verdict]
    action = f" ({grounding.action})" if grounding.action else ""
    out.print(f"[bold]Grounding:[/] [{colour}]{grounding.verdict}[/]{action} "
              f"[dim](checked against the {grounding.against} passages)[/]")
    for flag in grounding.flags:
        out.print(f"  [red]✗[/] {flag.kind} [bold]{escape(flag.text)}[/]: [dim]{escape(flag.why)}[/]")
    for sentence in grounding.unsupported_sentences:
        out.print(f"  [yellow]?[/] no passage backs: [dim]{escape(sentence.text)} (support {sentence.score:.2f})[/]")
    for derivation in grounding.derivations:  # "293.6 = 1,496.5 − 1,202.9 from [1]"
        sources = " ".join("the question" if m == 0 else f"[{m}]" for m in derivation.markers)
        how = "working shown" if derivation.shown else f"from {sources}"
        out.print(f"  [green]=[/] {escape(derivation.text)} = {escape(derivation.expression)} [dim]({how})[/]")


def print_conflicts(answer: Answer) -> None:
    for conflict in answer.conflicts:
        sides = "; ".join(f"[{side.marker}] “{escape(side.value)}”" for side in conflict.sides)
        out.print(f"[bold]Passages disagree:[/] [yellow]{sides}[/]")


def print_trace(trace: Trace) -> None:
    """The trace as a tree: groups (agentic steps, corrective rounds) hold their retrievals and calls."""
    root = Tree("[bold]Trace[/]")

    def add(branch: Tree, steps: list[TraceStep]) -> None:
        for step in steps:
            add(branch.add(_trace_label(step)), step.children)

    add(root, trace.steps)
    out.print(root)


def _trace_label(step: TraceStep) -> str:
    d = step.detail
    if step.stage == "retrieve":
        return f"retrieve {escape(repr(d['query']))} → {len(d['chunk_ids'])} hits [dim]{step.seconds:.2f} s[/]"
    if step.stage == "llm":
        tokens = f"{d['prompt_tokens']} in / {d['completion_tokens']} out, {d['reasoning_tokens']} thinking"
        estimated = " (estimated)" if d["tokens_estimated"] else ""
        output = escape(_one_line(d["output"], 70))
        return (f"[bold]{d['purpose']}[/] {d['role']} {escape(d['model'])} [dim]{step.seconds:.2f} s, "
                f"{tokens}{estimated}[/] → {output}")
    details = ", ".join(f"{k}={_one_line(str(v), 60)}" for k, v in d.items())
    seconds = f" [dim]{step.seconds:.2f} s[/]" if step.children else ""
    return f"[cyan]{step.stage}[/]{seconds} {escape(details)}"


class PlainLines:
    """Ingest progress as one line per file: for logs, pipes and CI. Problems go to stderr."""

    def __init__(self, show_ingested: bool = True):
        self.show_ingested = show_ingested
        self.total = self.done = 0

    def __enter__(self) -> PlainLines:
        return self

    def __exit__(self, *_: object) -> None:
        pass

    def planned(self, files: int) -> None:
        self.total = files

    def finished(self, outcome: FileOutcome) -> None:
        self.done += 1
        if outcome.status == "ingested" and self.show_ingested:
            pages = f"{pages_named(outcome.pages, outcome.path)}, " if outcome.pages else ""
            out.print(f"  [{self.done}/{self.total}] ingested {escape(_relative(outcome.path))} "
                      f"({pages}{outcome.chunks} chunks)")
        elif problem := _problem_line(outcome):
            err.print(problem)


class ProgressBar:
    """Ingest progress on a terminal: a live bar with files, pages, chunks, rate and time left."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("[bold]ingest"), BarColumn(), MofNCompleteColumn(), TextColumn("files"),
            TextColumn("· {task.fields[pages]} pages · {task.fields[chunks]} chunks ·"),
            TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), console=err, transient=False,
        )
        self._task = self._progress.add_task("ingest", total=None, pages=0, chunks=0, rate="")
        self._started = time.monotonic()
        self._pages = self._chunks = 0

    def __enter__(self) -> ProgressBar:
        self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._progress.stop()

    def planned(self, files: int) -> None:
        self._progress.update(self._task, total=files)

    def finished(self, outcome: FileOutcome) -> None:
        if problem := _problem_line(outcome):
            self._progress.console.print(problem)
        if outcome.status == "ingested":
            self._pages += outcome.pages or 0
            self._chunks += outcome.chunks
        elapsed = max(time.monotonic() - self._started, 1e-9)
        done = self._progress.tasks[0].completed + 1
        self._progress.update(self._task, advance=1, pages=self._pages, chunks=self._chunks,
                              rate=f"{done / elapsed:.1f} files/s")


def _problem_line(outcome: FileOutcome) -> str | None:
    """One line, in colour, for a skipped or failed file; None for the others."""
    colour = {"skipped": "yellow", "failed": "red"}.get(outcome.status)
    return f"[{colour}]{outcome.status}:[/] {escape(outcome.message)}" if colour else None


def _ingest_listener(quiet: bool) -> PlainLines | ProgressBar | contextlib.nullcontext[None]:
    if quiet:
        return contextlib.nullcontext()
    return ProgressBar() if err.is_terminal else PlainLines()


def snippet(text: str, query: str, width: int = 180) -> str:
    """The ``width`` characters of ``text`` around its first query term (the start when none occurs)."""
    flat = " ".join(text.split())
    positions = [flat.lower().find(term) for term in _query_terms(query)]
    first = min((p for p in positions if p >= 0), default=0)
    start = max(0, min(first - width // 3, len(flat) - width))
    return ("…" if start else "") + flat[start:start + width] + ("…" if start + width < len(flat) else "")


def highlight(text: str, query: str) -> str:
    """Rich markup with the query's terms in bold yellow (case-insensitive)."""
    terms = sorted(_query_terms(query), key=len, reverse=True)
    if not terms:
        return escape(text)
    pattern = re.compile("|".join(re.escape(term) for term in terms), re.IGNORECASE)
    pieces, last = [], 0
    for match in pattern.finditer(text):
        pieces += [escape(text[last:match.start()]), f"[bold yellow]{escape(match.group())}[/]"]
        last = match.end()
    return "".join(pieces) + escape(text[last:])


def _query_terms(query: str) -> list[str]:
    """Words of the query worth marking: BM25's tokens before stemming would lose their surface form,
    so use jieba's segmentation of the query itself, minus one-character pieces."""
    import jieba

    return [word.lower() for word in jieba.lcut(query) if len(word.strip()) > 1 and re.search(r"\w", word)]


def _hit_dict(hit: Hit) -> dict[str, Any]:
    chunk = hit.chunk
    return {"rank": hit.rank, "score": hit.score, "retriever": hit.retriever, "ranks": hit.ranks, "chunk_id": chunk.id,
            "path": chunk.path, "page": chunk.page, "page_end": chunk.page_end,
            "heading_path": list(chunk.heading_path),
            "start": chunk.start, "end": chunk.end, "text": chunk.text, "type": chunk.kind,
            "figure": dataclasses.asdict(chunk.figure) if chunk.figure else None}


def _relative(path: str) -> str:
    """``path`` as the user knows it: the bundled samples as ``examples/NAME``, else relative to here."""
    try:
        samples = examples_dir()
        if Path(path).is_relative_to(samples):
            return str(Path("examples") / Path(path).relative_to(samples))
    except FileNotFoundError:
        pass
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path


def main() -> None:
    """Console entry point: known errors become one clear line and a non-zero exit status."""
    try:
        app()
    except ConfigError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise SystemExit(2) from None
    except (NothingToSearch, LLMError, LocalServerError, StoreError, FileNotFoundError, ValueError) as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
