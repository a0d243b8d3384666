"""The grounding check: its precision and recall on the hand-labelled answers the tests keep, and
what it adds to an answer's latency.

* quality: tests/data/grounding_labelled.json (64 answers over 16 passages, English and Chinese:
  supported, wrong number, wrong name, number written differently), words alone and with the
  bundled embedder; an answer counts as caught when the verdict is not "supported".
* cost: RGB en_fact and zh_fact questions answered with a sentence naming the expected answer, checked
  against five passages as `ask` gives them (the positive passages first, then negatives); the
  embedding similarity reads precomputed passage vectors, as the stored index does, and embeds the
  answer sentence at check time.

    python benchmarks/grounding.py [--questions N]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks.common import machine, percentile, shared_dir
from ponder.index.embedders import E5Embedder
from ponder.reason.grounding import GroundingChecker
from ponder.types import Chunk, Hit

LABELLED = Path(__file__).resolve().parents[1] / "tests" / "data" / "grounding_labelled.json"


def numbered(texts: list[str]) -> list[tuple[int, Hit]]:
    return [(n, Hit(Chunk(f"c{n}", "d", "p.txt", t, 0, len(t)), 1.0, "bm25", n)) for n, t in enumerate(texts, 1)]


def similarity_over(embedder: E5Embedder, texts: list[str]):
    vectors = {f"c{n}": v for n, v in enumerate(embedder.embed_passages(texts), start=1)}

    def similarity(text: str, chunk_ids: list[str]) -> list[float]:
        query = embedder.embed_query(text)
        return [float(vectors[c] @ query) for c in chunk_ids]
    return similarity


def quality(embedder: E5Embedder | None) -> dict[str, float]:
    cases = json.loads(LABELLED.read_text())["cases"]
    tp = fp = fn = tn = spans = wrong = 0
    for case in cases:
        checker = GroundingChecker(similarity_over(embedder, [case["passage"]]) if embedder else None)
        for answer in case["answers"]:
            grounding = checker.check(case["question"], answer["text"], numbered([case["passage"]]), [1])
            caught, bad = grounding.verdict != "supported", answer["kind"] in ("wrong number", "wrong name")
            tp, fp, fn, tn = tp + (caught and bad), fp + (caught and not bad), fn + (bad and not caught), \
                tn + (not bad and not caught)
            if bad:
                wrong += 1
                spans += any(answer["span"] in f.text or f.text in answer["span"] for f in grounding.flags)
    return {"answers": tp + fp + fn + tn, "precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1),
            "span found": spans / wrong}


def cost(embedder: E5Embedder, questions: int) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    for name in ("en_fact", "zh_fact"):
        lines = (shared_dir() / "data" / "rgb" / f"{name}.json").read_text().splitlines()  # JSON lines
        rows = [json.loads(line) for line in lines if line.strip()][:questions]
        words_ms, embedded_ms = [], []
        for row in rows:
            texts = (row["positive"][:2] + row["negative"])[:5]
            expected = row["answer"][0] if isinstance(row["answer"][0], str) else row["answer"][0][0]
            answer = (f"{expected} [1]。" if name.startswith("zh") else f"The answer is {expected} [1].")
            given = numbered(texts)
            for checker, times in ((GroundingChecker(), words_ms),
                                   (GroundingChecker(similarity_over(embedder, texts)), embedded_ms)):
                started = time.perf_counter()
                checker.check(row["query"], answer, given, [1])
                times.append((time.perf_counter() - started) * 1000)
        for label, times in (("words", words_ms), ("words + embedding", embedded_ms)):
            found[f"{name} · {label}"] = {"p50": percentile(times, 50), "p95": percentile(times, 95)}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=100)
    args = parser.parse_args()
    embedder = E5Embedder()
    GroundingChecker().check("warm up", "Warm up 1 [1].", numbered(["warm up 1"]), [1])  # jieba's dictionary
    print(f"# grounding check · {machine()}\n")
    print("| labelled set | answers | precision | recall | wrong span flagged |\n|---|---|---|---|---|")
    for label, with_embedder in (("words alone", None), ("with the embedder", embedder)):
        q = quality(with_embedder)
        print(f"| {label} | {q['answers']} | {q['precision']:.3f} | {q['recall']:.3f} | {q['span found']:.3f} |")
    print("\n| answers checked | p50 ms | p95 ms |\n|---|---|---|")
    for label, times in cost(embedder, args.questions).items():
        print(f"| {label} | {times['p50']:.1f} | {times['p95']:.1f} |")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
