"""The grounding check on computed numbers: TAT-QA dev (issue 29, part 1).

Each context (its table as Markdown, then its paragraphs) is one passage. For every question the
gold answer is written as "The answer is X [1]." and checked against it:

* arithmetic answers (computed, so no passage writes them): judged supported, and not flagged;
* the same answers with a wrong number (X × 1.1 at X's rounding): flagged;
* the same answers with their working (TAT-QA's derivation, "44.1-56.7 = -12.6"), as Ponder's
  computed answers state it: supported; and with a wrong result after the working: flagged;
* span answers (copied from the passage): judged supported / no number flagged;
* the hand-labelled Chinese answers the tests keep (tests/data/grounding_numbers_zh.json): the
  number flags' precision and recall;
* the check's time per answer (p50, p95), and for the first answer over each context alone (the
  passage's lines are read once and kept: later answers citing it are faster).

Contexts are split by position (even, odd) and reported apart: the derivation rules were
developed looking at the whole dev set (its test set is kept back), so neither half is unseen.
Percentages are written with "%" (TAT-QA's scale ``percent``); other scales are left unwritten, as
the passages' tables write them. Arithmetic answers are split by their shape (TAT-QA's derivation
with the numbers replaced by n) so that what one step cannot reach is visible.

    python -m benchmarks.tatqa_grounding [--limit N]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from decimal import Decimal

from benchmarks.common import header, percentile, shared_dir
from ponder.evaluate.datasets import tatqa_context_markdown
from ponder.reason.grounding import GroundingChecker
from ponder.types import Chunk, Hit
from tests.test_derivations import chinese_numbers_quality


def written(value: float, scale: str) -> str:
    text = f"{value:,}" if abs(value) >= 1000 else f"{value}"
    return text + ("%" if scale == "percent" else "")


def wrong(value: float) -> float:
    decimals = max(0, -Decimal(str(value)).normalize().as_tuple().exponent)
    changed = round(value * 1.1, decimals)
    return changed if changed != value else value + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="contexts to read")
    args = parser.parse_args()
    data = json.loads((shared_dir() / "data" / "tatqa" / "tatqa_dataset_dev.json").read_text(encoding="utf-8"))
    checker = GroundingChecker()
    results: dict[str, dict[str, list[bool]]] = {}
    by_shape: dict[str, list[bool]] = {}
    seconds: list[float] = []
    first_seconds: list[float] = []  # the first answer over each context: its lines not yet read
    for position, context in enumerate(data[:args.limit]):
        half = "even" if position % 2 == 0 else "odd"
        text = tatqa_context_markdown(context)
        numbered = [(1, Hit(Chunk("c1", "d1", "context.md", text, 0, len(text)), 1.0, "bm25", 1))]
        first_of_context = True
        for question in context["questions"]:
            kind, answer = question["answer_type"], question["answer"]
            if kind == "arithmetic" and isinstance(answer, (int, float)):
                started = time.perf_counter()
                right = checker.check(question["question"], f"The answer is {written(answer, question['scale'])} [1].",
                                      numbered)
                seconds.append(time.perf_counter() - started)
                if first_of_context:
                    first_seconds.append(seconds[-1])
                first_of_context = False
                bad = checker.check(question["question"],
                                    f"The answer is {written(wrong(answer), question['scale'])} [1].", numbered)
                supported = not right.flags
                # The same answers with their working, as Ponder's computed answers state it.
                working = question["derivation"].replace("[", "(").replace("]", ")").strip()
                shown = checker.check(question["question"], f"The answer is {working} = "
                                      f"{written(answer, question['scale'])} [1].", numbered)
                shown_wrong = checker.check(question["question"], f"The answer is {working} = "
                                            f"{written(wrong(answer), question['scale'])} [1].", numbered)
                for measure, value in (("arithmetic: supported (no number flagged)", supported),
                                       ("arithmetic: derived", bool(right.derivations)),
                                       ("arithmetic, wrong number: flagged", bool(bad.flags)),
                                       ("arithmetic with its working: supported", not shown.flags),
                                       ("… with a wrong result: flagged", bool(shown_wrong.flags))):
                    results.setdefault(measure, {}).setdefault(half, []).append(value)
                shape = re.sub(r"\$?\d[\d,]*\.?\d*%?", "n", question["derivation"].replace(" ", ""))
                by_shape.setdefault(shape, []).append(supported)
            elif kind == "span" and isinstance(answer, list) and len(answer) == 1:
                verdict = checker.check(question["question"], f"The answer is {answer[0]} [1].", numbered)
                results.setdefault("span: no number flagged", {}).setdefault(half, []).append(
                    not any(f.kind == "number" for f in verdict.flags))
    header("Grounding on computed numbers: TAT-QA dev")
    print("| measure | even contexts | odd contexts | answers |\n|---|---|---|---|")
    for measure, halves in results.items():
        shares = " | ".join(f"{sum(halves[h]) / len(halves[h]):.3f}" for h in ("even", "odd"))
        print(f"| {measure} | {shares} | {sum(len(v) for v in halves.values())} |")
    print(f"\ncheck time per arithmetic answer: p50 {percentile(seconds, 50) * 1000:.1f} ms, "
          f"p95 {percentile(seconds, 95) * 1000:.1f} ms; the first answer over each context (its passage "
          f"not read before): p50 {percentile(first_seconds, 50) * 1000:.1f} ms, "
          f"p95 {percentile(first_seconds, 95) * 1000:.1f} ms\n")
    precision, recall, answers = chinese_numbers_quality()
    print(f"hand-labelled Chinese answers ({answers}): wrong number or working flagged, precision {precision:.3f}, "
          f"recall {recall:.3f}\n")
    print("| derivation shape | supported | answers |\n|---|---|---|")
    counts = Counter({shape: len(values) for shape, values in by_shape.items()})
    for shape, count in counts.most_common(12):
        values = by_shape[shape]
        print(f"| `{shape}` | {sum(values) / count:.3f} | {count} |")


if __name__ == "__main__":
    main()
