"""One evaluation, top to bottom, callable without the CLI: choose the systems → ingest the dataset's
corpus (or the user's) → ask every pending question in every system → write the report.

Example::

    dataset = load_dataset("jsonl:distilled/validation.plain.jsonl")
    outcome = evaluate(dataset, Path("eval-out"), EvalSettings(modes=("direct", "reasoner")))
    outcome.markdown, outcome.page  # report.md and report.html
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ponder.api import IngestListener, Ponder
from ponder.config import load_config
from ponder.evaluate.datasets import Dataset
from ponder.evaluate.report import write_report
from ponder.evaluate.runner import EvalRunner, RunLog, System, budget_curve
from ponder.evaluate.scoring import Price
from ponder.reason import MODE_NAMES
from ponder.text import redact
from ponder.types import IngestReport


@dataclass(frozen=True)
class EvalSettings:
    modes: tuple[str, ...] = ()  # empty: every mode but global (which answers from community reports)
    budgets: tuple[int, ...] = ()  # agentic step limits: the accuracy-versus-cost curve
    config_variants: tuple[Path, ...] = ()  # every mode again under each of these config files
    corpus: Path | None = None  # documents to ingest for a dataset that brings none
    concurrency: int = 1
    judge: bool = False

    def __post_init__(self) -> None:
        for mode in self.modes:
            if mode not in MODE_NAMES:
                raise ValueError(f"{mode!r} is not a mode; valid modes: {', '.join(MODE_NAMES)}")


@dataclass
class EvalOutcome:
    rows: list[dict[str, Any]]  # every result, earlier runs' included
    asked: int
    failures: int
    markdown: Path
    page: Path


def plan_systems(settings: EvalSettings, default_steps: int) -> tuple[list[System], dict[str, int]]:
    """The systems to run, and the budget curve (label → agentic step limit)."""
    systems = [System(mode, mode) for mode in settings.modes or [m for m in MODE_NAMES if m != "global"]]
    curve = budget_curve(systems, list(settings.budgets), default_steps)
    systems += [System(label, "agentic", {"reason.max_steps": steps}) for label, steps in curve.items()
                if label != "agentic"]
    systems += [System(f"{s.label}@{path.stem}", s.mode, s.overrides, path)
                for path in settings.config_variants for s in systems]
    return systems, curve


def evaluate(dataset: Dataset, out_dir: Path, settings: EvalSettings, *, config_path: Path | None = None,
             data_dir: Path | None = None, ingest_listener: IngestListener | None = None,
             on_ingested: Callable[[IngestReport], None] | None = None,
             on_planned: Callable[[int], None] | None = None,
             on_result: Callable[[dict[str, Any]], None] | None = None) -> EvalOutcome:
    """Run (or resume) the evaluation in ``out_dir`` and write its report. A dataset with its own
    corpus, or ``settings.corpus``, is indexed in ``out_dir/index``; otherwise questions are asked
    of ``data_dir`` (default: the config's). ``on_planned`` hears how many questions are pending,
    ``on_result`` each result as it lands."""
    base = load_config(config_path)
    own_index = bool(dataset.corpus or settings.corpus)
    index = str(out_dir / "index") if own_index else (str(data_dir) if data_dir else None)
    systems, curve = plan_systems(settings, base.reason.max_steps)

    def make_config(system: System):
        return load_config(system.config or config_path, overrides={"data_dir": index, **system.overrides})

    run_log = RunLog(out_dir)
    if own_index:
        with Ponder(make_config(System("ingest", "direct"))) as ponder:
            source = dataset.write_corpus(out_dir / "corpus") if dataset.corpus else settings.corpus
            report = ponder.ingest([source] if source else [], listener=ingest_listener)
        if on_ingested:
            on_ingested(report)
    prices = {model: Price(p.input, p.output) for model, p in base.prices.items()}
    runner = EvalRunner(make_config, dataset, systems, out_dir, concurrency=settings.concurrency, prices=prices,
                        judge=settings.judge)
    pending = runner.pending()
    if on_planned:
        on_planned(len(pending))
    counts = {"asked": 0, "failures": 0}

    def landed(row: dict[str, Any]) -> None:
        counts["asked"] += 1
        counts["failures"] += bool(row["error"])
        run_log.record(counts["asked"])
        if on_result:
            on_result(row)

    runner.on_result = landed
    rows = runner.run()
    if pending:  # a run that only redraws the report asked nothing and adds no time
        run_log.record(len(pending))
    config_text = config_path.read_text(encoding="utf-8") if config_path else "# defaults (no config file)"
    config_text = redact(config_text, base.secret_values())  # the report is shared; its keys are not
    markdown, page = write_report(rows, out_dir, config_text, f"Ponder evaluation: {dataset.name}",
                                  wall_seconds=run_log.total_seconds(), budgets=curve)
    return EvalOutcome(rows, counts["asked"], counts["failures"], markdown, page)
