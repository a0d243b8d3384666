"""``ponder log`` (every model call, from calls.db) and ``ponder demo`` (the README's first command)."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from ponder.cli.app import _open, app
from ponder.cli.render import (
    _ingest_listener,
    _one_line,
    err,
    examples_dir,
    out,
    print_answer,
)
from ponder.config import load_config
from ponder.index import StoreError

DEMO_QUESTIONS = ("How long is the oolong roasted?", "青溪村图书馆每周哪天闭馆？")


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
