"""Does the agentic loop find more of a multi-hop question's passages than one search? (issue 32)

For each question the ``agentic`` mode runs with ``reason.max_steps = 3`` on the retriever
``hybrid+graph``; its trace says which passages each step's search returned (the search for the
question itself that starts the loop counts with step 1; ``--planner-first`` turns it off, as the
mode was before). The union of what
steps 1, 2 and 3 read is scored against the question's supporting passages (recall, and "chain":
all of them found), beside single-shot ``hybrid+graph`` at top 5 and top 10. A step's plan depends
only on what earlier steps found, so a three-step run's first k steps are what a k-step run does.
The planner is the configured reasoner — on a fresh install the embedded Gemma 3 270M::

    python benchmarks/agentic_retrieval.py [--questions 20]

It reuses the indexes benchmarks/graph.py keeps in benchmarks/.cache/graph/ (run that first).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from common import header
from graph import CACHE, index, split_questions

from ponder import Ponder, load_config

STEPS = 3


def passages_by_step(answer) -> list[set[str]]:
    """Passage ids (file stems) each agentic step's searches returned; the search for the question
    itself, before the first plan (``reason.search_question_first``), counts with step 1."""
    before: set[str] = set()
    found = []
    for step in answer.trace.steps:
        if step.stage == "retrieve":
            before |= {Path(p).stem for p in step.detail["paths"]}
        elif step.stage.startswith("step "):
            paths = [p for child in step.children if child.stage == "retrieve" for p in child.detail["paths"]]
            found.append({Path(p).stem for p in paths})
    return [before | found[0], *found[1:]] if found else [before]


def measure(spec: str, questions: int, question_first: bool) -> list[str]:
    dataset, data_dir = index(spec, None)
    dataset = split_questions(dataset, "report")
    chosen = dataset.questions[:questions]
    settings = {"data_dir": str(data_dir), "retrieve.mode": "hybrid+graph", "reason.max_steps": STEPS,
                "reason.search_question_first": question_first}
    single: dict[int, list[float]] = {5: [], 10: []}
    single_chains: dict[int, list[float]] = {5: [], 10: []}
    steps: list[list[float]] = [[] for _ in range(STEPS)]
    chains: list[list[float]] = [[] for _ in range(STEPS)]
    read: list[list[int]] = [[] for _ in range(STEPS)]
    taken: list[int] = []
    seconds: list[float] = []
    with Ponder(load_config(overrides=settings)) as ponder:
        for question in chosen:
            for k in single:
                stems = {Path(hit.chunk.path).stem for hit in ponder.search(question.query, top_k=k)}
                single[k].append(len(stems & question.relevant) / len(question.relevant))
                single_chains[k].append(float(question.relevant <= stems))
            started = time.perf_counter()
            answer = ponder.ask(question.query, mode="agentic")
            seconds.append(time.perf_counter() - started)
            per_step = passages_by_step(answer)
            taken.append(len(per_step))
            union: set[str] = set()
            for n in range(STEPS):
                union |= per_step[n] if n < len(per_step) else set()
                steps[n].append(len(union & question.relevant) / len(question.relevant))
                chains[n].append(float(question.relevant <= union))
                read[n].append(len(union))
            print(f"  {question.id}: steps {len(per_step)}, found {[round(s[-1], 2) for s in steps]}, "
                  f"{seconds[-1]:.0f} s", flush=True)
    start = " from the question's search" if question_first else ", planner's first query"
    rows = [f"| {dataset.name} ({len(chosen)} q) | hybrid+graph, one search, top {k} | "
            f"{statistics.mean(v):.3f} | {statistics.mean(single_chains[k]):.3f} | {k} | |" for k, v in single.items()]
    for n in range(STEPS):
        rows.append(f"| {dataset.name} ({len(chosen)} q) | agentic{start}, {n + 1} step{'s' if n else ''} | "
                    f"{statistics.mean(steps[n]):.3f} | {statistics.mean(chains[n]):.3f} | "
                    f"{statistics.mean(read[n]):.1f} | |")
    rows[-1] = rows[-1][:-2] + (f" {statistics.mean(seconds):.0f} s a question, "
                                f"{statistics.mean(taken):.1f} steps planned |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["hotpotqa:multihop/hotpotqa_100",
                                                           "crudhop:benchmarks/datasets/crud_multihop_zh.json"])
    parser.add_argument("--questions", type=int, default=20, help="first N questions of each (reporting half)")
    parser.add_argument("--planner-first", action="store_true",
                        help="reason.search_question_first = false: the planner writes the first search")
    args = parser.parse_args()
    header("Agentic retrieval over the graph")
    if not CACHE.is_dir():
        raise SystemExit(f"no indexes in {CACHE}: run benchmarks/graph.py first")
    table = ["| dataset | retrieval | recall | chain | passages read | time |", "|---|---|---|---|---|---|"]
    for spec in args.datasets:
        table += measure(spec, args.questions, not args.planner_first)
    print("\n" + "\n".join(table))


if __name__ == "__main__":
    main()
