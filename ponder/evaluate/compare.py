"""Compare two evaluation runs: which questions flipped, and whether the metric changes are beyond
noise (a paired bootstrap over the questions both runs answered).

Example::

    print(compare_runs(read_results(Path("before")), read_results(Path("after"))))
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable
from typing import Any

METRICS: list[tuple[str, Callable[[dict[str, Any]], float | None]]] = [
    ("accuracy", lambda s: None if s["correct"] is None else float(s["correct"])),
    ("recall@5", lambda s: s["recall@5"]),
    ("seconds", lambda s: s["seconds"]),
    ("tokens", lambda s: s["prompt_tokens"] + s["completion_tokens"]),
    ("fell back", lambda s: None if s.get("fell_back") is None else float(s["fell_back"])),
]


def bootstrap_interval(deltas: list[float], resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% interval of the mean of paired ``deltas`` (percentile bootstrap, seeded)."""
    rng = random.Random(seed)
    means = sorted(statistics.mean(rng.choices(deltas, k=len(deltas))) for _ in range(resamples))
    return means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1]


def compare_runs(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> str:
    """A Markdown summary per system present in both runs."""
    index_a = {(r["system"], r["question_id"]): r for r in before if r["scores"]}
    index_b = {(r["system"], r["question_id"]): r for r in after if r["scores"]}
    systems = sorted({s for s, _ in index_a} & {s for s, _ in index_b})
    if not systems:
        return "The two runs have no system in common."
    lines = ["| system | metric | before | after | change | 95% interval | beyond noise |",
             "|---|---|---|---|---|---|---|"]
    flips: list[str] = []
    for system in systems:
        pairs = [(index_a[key], index_b[key]) for key in index_a if key[0] == system and key in index_b]
        for name, read in METRICS:
            read_pairs = [(read(a["scores"]), read(b["scores"])) for a, b in pairs]
            values = [(x, y) for x, y in read_pairs if x is not None and y is not None]
            if not values:
                continue
            deltas = [y - x for x, y in values]
            low, high = bootstrap_interval(deltas)
            beyond = "yes" if low > 0 or high < 0 else "no"
            lines.append(f"| {system} | {name} | {statistics.mean(x for x, _ in values):.3f} | "
                         f"{statistics.mean(y for _, y in values):.3f} | {statistics.mean(deltas):+.3f} | "
                         f"[{low:+.3f}, {high:+.3f}] | {beyond} |")
        for a, b in pairs:
            was, now = a["scores"]["correct"], b["scores"]["correct"]
            if was is not None and now is not None and was != now:
                flips.append(f"- {system}: {'wrong → right' if now else 'right → wrong'}: {a['question']}")
    summary = [f"{len(flips)} questions flipped."] + flips
    return "\n".join(lines + [""] + summary)
