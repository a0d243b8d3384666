"""``ponder eval`` (modes side by side on a dataset) and ``ponder distill`` (records for fine-tuning)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ponder.api import NothingToSearch
from ponder.cli.app import _open, app
from ponder.cli.render import (
    _ingest_listener,
    err,
    out,
)
from ponder.distill import FORMATS as DISTILL_FORMATS
from ponder.distill import KINDS as DISTILL_KINDS
from ponder.reason import MODE_NAMES


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
