"""Numeric answers on TAT-QA dev (issue 29, parts 3 and 5): how `ponder eval tatqa:dev` scored each
system, by answer type and by half of the contexts, and how the router and the calculator's shape
rules read TAT-QA's questions.

The answers come from an evaluation run (resumable; on the embedded default about 1.5 s a
question on 2 cores):

    ponder --data-dir /tmp/tq/data eval tatqa:dev --mode direct \\
        --config-variant benchmarks/configs/no-calculator.toml --out /tmp/tq/out
    python -m benchmarks.tatqa_answers --results /tmp/tq/out

Contexts are split by position (even, odd). The shape and operand rules of ponder.reason.compute
were written looking at the even half's failures; the odd half is the one to read. Only questions
answered by every system are counted, so the columns compare the same questions.

Without --results no model is run: the routing table, and the calculator's rules alone over each
arithmetic question's own context (no retrieval): how often they compute, and compute right.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from benchmarks.common import header, shared_dir
from ponder.config import ReasonConfig
from ponder.evaluate.datasets import load_dataset
from ponder.evaluate.runner import read_results
from ponder.reason import Router
from ponder.reason.compute import compute, question_shape
from ponder.types import Chunk, Hit

COMPUTING_MODES = {"reasoner", "think-then-answer", "agentic"}


def routing(questions: list) -> None:
    """How often `auto` sends a TAT-QA question where its answer type belongs: arithmetic and count
    to a computing mode, spans to `direct`; and how often the calculator's rules see a shape."""
    router = Router(ReasonConfig())
    right: dict[str, list[bool]] = defaultdict(list)
    shaped: dict[str, list[bool]] = defaultdict(list)
    for question in questions:
        kind = question.gold["answer_type"]
        mode = router.route(question.query).mode
        computes = kind in ("arithmetic", "count")
        right[kind].append((mode in COMPUTING_MODES) == computes)
        shaped[kind].append(question_shape(question.query) is not None)
    print("| answer type | questions | `auto` routes it right | a calculator shape is seen |\n|---|---|---|---|")
    for kind in sorted(right):
        print(f"| {kind} | {len(right[kind])} | {sum(right[kind]) / len(right[kind]):.3f} | "
              f"{sum(shaped[kind]) / len(shaped[kind]):.3f} |")
    everything = [value for values in right.values() for value in values]
    print(f"| all | {len(everything)} | {sum(everything) / len(everything):.3f} | |\n")


def gold_contexts(dataset) -> None:
    """compute() on each arithmetic question given its own context as the only passage: the rules'
    accuracy without retrieval (a TAT-QA exact match at two decimals)."""
    found: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for question in dataset.questions:
        if question.gold["answer_type"] != "arithmetic":
            continue
        passage_id = next(iter(question.relevant))
        text = dataset.corpus[passage_id]
        numbered = [(1, Hit(Chunk(passage_id, passage_id, f"{passage_id}.md", text, 0, len(text)), 1.0, "bm25", 1))]
        computed = compute(question.query, numbered)
        right = computed is not None and round(float(computed.result), 2) == round(float(question.gold["answer"]), 2)
        found["even" if int(passage_id[1:]) % 2 == 0 else "odd"].append((computed is not None, right))
    print("| contexts | arithmetic questions | computed | computed right |\n|---|---|---|---|")
    for half in ("even", "odd"):
        rows = found[half]
        print(f"| {half} | {len(rows)} | {sum(c for c, _ in rows) / len(rows):.3f} | "
              f"{sum(r for _, r in rows) / len(rows):.3f} |")
    print()


def scores(results: Path, questions: list) -> None:
    half = {q.id: "even" if int(next(iter(q.relevant))[1:]) % 2 == 0 else "odd" for q in questions}
    kinds = {q.id: q.gold["answer_type"] for q in questions}
    rows = [row for row in read_results(results) if row["scores"] and row["question_id"] in half]
    systems = sorted({row["system"] for row in rows})
    answered = defaultdict(set)
    for row in rows:
        answered[row["question_id"]].add(row["system"])
    shared = {qid for qid, by in answered.items() if by == set(systems)}
    table: dict[tuple[str, str, str], list[tuple[float, float]]] = defaultdict(list)
    for row in rows:
        if row["question_id"] in shared:
            qid = row["question_id"]
            for kind in (kinds[qid], "all"):
                table[(row["system"], kind, half[qid])].append((float(row["scores"]["correct"]),
                                                                 row["scores"]["f1"]))
    print(f"{len(shared)} questions answered by every system ({', '.join(systems)})\n")
    print("| system | answer type | EM even | EM odd | F1 even | F1 odd | questions |\n|---|---|---|---|---|---|---|")
    for system in systems:
        for kind in ("arithmetic", "count", "span", "multi-span", "all"):
            even, odd = table.get((system, kind, "even"), []), table.get((system, kind, "odd"), [])
            if not even and not odd:
                continue
            mean = [sum(v[i] for v in part) / len(part) if part else float("nan")
                    for i in (0, 1) for part in (even, odd)]
            print(f"| {system} | {kind} | {mean[0]:.3f} | {mean[1]:.3f} | {mean[2]:.3f} | {mean[3]:.3f} | "
                  f"{len(even) + len(odd)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, help="a `ponder eval tatqa:dev` output folder")
    args = parser.parse_args()
    dataset = load_dataset("tatqa:dev", shared=shared_dir())
    questions = dataset.questions
    header("Numeric answers: TAT-QA dev")
    routing(questions)
    gold_contexts(dataset)
    if args.results:
        scores(args.results, questions)


if __name__ == "__main__":
    main()
