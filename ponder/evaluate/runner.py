"""Ask every question of a dataset in every system (a mode, optionally with config overrides) and
write each result to ``results.jsonl`` the moment it lands.

A run can be stopped at any point and started again: questions already answered by a system are
not asked again (one that failed is retried). Questions run concurrently up to ``concurrency``;
one that fails is recorded with its error, counted, and the run goes on.

Example::

    systems = [System("direct", "direct"), System("agentic@2", "agentic", {"reason.max_steps": 2})]
    make_config = lambda system: load_config(system.config, overrides={"data_dir": "eval-out/index",
                                                                       **system.overrides})
    EvalRunner(make_config, dataset, systems, Path("eval-out")).run()
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ponder.api import Ponder
from ponder.backends import Backends
from ponder.config import Config
from ponder.evaluate.datasets import Dataset, EvalQuestion
from ponder.evaluate.judge import Judge
from ponder.evaluate.scoring import Price, score_answer

RESULTS = "results.jsonl"
RUNS = "runs.jsonl"


@dataclass(frozen=True)
class System:
    """What answers: a mode, under a label, with an optional config file (a second reasoner model)
    and overrides (a smaller agentic budget...)."""

    label: str
    mode: str
    overrides: dict[str, Any] = field(default_factory=dict)
    config: Path | None = None


def budget_curve(systems: list[System], budgets: list[int], default_steps: int) -> dict[str, int]:
    """The agentic step-budget curve: label → step limit, ``agentic@N`` for each budget, except that
    the plain ``agentic`` system, when it runs, is the point at the configured limit (not asked twice).

    >>> budget_curve([System("agentic", "agentic")], [1, 4, 1], default_steps=4)
    {'agentic@1': 1, 'agentic': 4}
    """
    plain = any(s.label == "agentic" and not s.overrides for s in systems)
    return {("agentic" if plain and steps == default_steps else f"agentic@{steps}"): steps
            for steps in dict.fromkeys(budgets)}


def read_results(out_dir: Path) -> list[dict[str, Any]]:
    """The rows of ``results.jsonl``, the last one for each (system, question); a line cut short by
    a killed run is ignored."""
    path = out_dir / RESULTS
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            latest[(row["system"], row["question_id"])] = row
    return list(latest.values())


class RunLog:
    """``runs.jsonl``: one line per run of ``ponder eval`` on a directory, how many questions it
    asked and for how long. The current run's line is rewritten as its answers land, so a killed run
    keeps its time up to its last answer; the evaluation's wall time is the sum over the runs."""

    def __init__(self, out_dir: Path):
        self.path = out_dir / RUNS
        self._earlier = self.path.read_text(encoding="utf-8").splitlines() if self.path.is_file() else []
        self._started = time.perf_counter()

    def record(self, asked: int) -> None:
        line = json.dumps({"asked": asked, "seconds": time.perf_counter() - self._started})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".tmp")
        partial.write_text("\n".join([*self._earlier, line]) + "\n", encoding="utf-8")
        partial.replace(self.path)  # never a half-written log

    def total_seconds(self) -> float | None:
        if not self.path.is_file():
            return None
        return sum(json.loads(line)["seconds"] for line in self.path.read_text(encoding="utf-8").splitlines() if line)


class EvalRunner:
    def __init__(self, make_config: Callable[[System], Config], dataset: Dataset, systems: list[System],
                 out_dir: Path,
                 concurrency: int = 1, prices: dict[str, Price] | None = None, judge: bool = False,
                 on_result: Callable[[dict[str, Any]], None] | None = None):
        self.make_config = make_config
        self.dataset = dataset
        self.systems = systems
        self.out_dir = out_dir
        self.concurrency = concurrency
        self.prices = prices or {}
        self.judge = judge
        self.on_result = on_result
        self._write_lock = threading.Lock()

    def pending(self) -> list[tuple[System, EvalQuestion]]:
        done = {(row["system"], row["question_id"]) for row in read_results(self.out_dir) if not row["error"]}
        return [(system, question) for system in self.systems for question in self.dataset.questions
                if (system.label, question.id) not in done]

    def run(self) -> list[dict[str, Any]]:
        """Answer what is pending; return every row (earlier runs' included)."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        todo = self.pending()
        ponders: dict[str, Ponder] = {}
        # Systems that differ only in reasoning settings share one set of models (one embedded server).
        shared: dict[str, Backends] = {}
        try:
            for system in {s.label: s for s, _ in todo}.values():
                config = self.make_config(system)
                backends = shared.setdefault(Backends.key(config), Backends(config))
                ponders[system.label] = Ponder(config, backends=backends)
            with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
                for system, question in todo:
                    pool.submit(self._ask, ponders[system.label], system, question)
        finally:
            for ponder in ponders.values():
                ponder.close()
            for backends in shared.values():
                backends.close()
        return read_results(self.out_dir)

    def _ask(self, ponder: Ponder, system: System, question: EvalQuestion) -> None:
        started = time.perf_counter()
        row: dict[str, Any] = {"system": system.label, "mode": system.mode, "question_id": question.id,
                               "question": question.query, "type": question.type, "error": None}
        try:
            answer = ponder.ask(question.query, mode=system.mode)
            scores = score_answer(question, answer, self.prices)
            if self.judge:
                scores["judge_correct"] = Judge(ponder.model("judge")).verdict(question.query, question.answers,
                                                                               answer.text)
            row |= {"scores": scores, "answer": answer.to_dict()}
        except Exception as exc:  # noqa: BLE001 - one question's failure is recorded, not fatal
            row |= {"error": f"{type(exc).__name__}: {exc}", "scores": None, "answer": None}
        row["wall_seconds"] = time.perf_counter() - started
        line = json.dumps(row, ensure_ascii=False, default=str)
        with self._write_lock:
            with (self.out_dir / RESULTS).open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
                handle.flush()
            if self.on_result:
                self.on_result(row)

